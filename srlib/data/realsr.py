"""Real LR/HR pairs: the ``RealSR`` dataset (16 NTIRE-2019 Real-SR validation pairs) and its split rule.

The pairs live under ``realsr/NTIRE2019_RealSR_val/{HR,LR}/<camera>_<number>.webp`` (registry entry
``RealSR``, kind ``pairs``): LR and HR have the same size and are aligned (the x2 pairs of the
challenge, LR already upsampled to the HR grid). Two cameras: ``cam1`` (9 pairs) and ``cam2`` (7).

**The split rule** (:func:`realsr_split`). This is *not* the RealSR v1 Canon x2 split (71 train,
15 test) the multiblock report used; that set is not available here. For each camera, its stems are
sorted by image number (``cam1_01, cam1_02, ..., cam1_010``); with ``n`` images of that camera and
``k`` test images per camera (default 2), the test images are those at the positions
``floor((j + 1/2) * n / k)``, ``j = 0..k-1`` (evenly spaced, neither the first nor the last image),
and every other image is a training image. With the 16 pairs and ``k = 2``: test = cam1_03, cam1_07,
cam2_02, cam2_09 (4 pairs, both cameras); train = the other 12 (7 cam1, 5 cam2). The rule depends on
the file names only, never on pixel values or a random seed.

**Bad input.** :class:`RealSR` checks every pair before it keeps anything: a missing partner (an HR
file without its LR file or an LR file without its HR file), an unreadable file, or an LR and HR of
different sizes raises :class:`~srlib.data.DataError` naming the file(s). Images reach the in-memory
cache (:data:`~srlib.data.IMAGE_CACHE`) only once their pair passed the checks, so nothing is cached
for a bad pair (and the LR_k caches of the phase runner, built from checked pairs, never see it).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from srlib.data.datasets import (
    IMAGE_CACHE, DataError, GrayscaleImageWarning, _file_key, _glob, _natural_key, _remedy, dataset_dir, load_image,
    spec,
)

DATASET = "RealSR"
TEST_PER_CAMERA = 2
SPLITS = ("train", "test", "all")
_STEM = re.compile(r"^(?P<camera>[A-Za-z]+\d*)_(?P<number>\d+)$")


def camera_of(stem: str) -> str:
    """The camera of a RealSR stem: ``"cam1_010" -> "cam1"``; DataError for a name without one."""
    m = _STEM.match(stem)
    if not m:
        raise DataError(f"RealSR file name {stem!r} is not <camera>_<number> (e.g. cam1_01); "
                        f"the split rule needs the camera in the name")
    return m.group("camera")


def _number(stem: str) -> int:
    return int(_STEM.match(stem).group("number"))


def realsr_split(stems, test_per_camera: int = TEST_PER_CAMERA) -> dict[str, list[str]]:
    """``{"train": [...], "test": [...]}`` of the given stems by the rule in the module docstring.

    Per camera, stems sorted by image number; test = positions ``floor((j + 1/2) * n / k)``,
    ``j < k = test_per_camera``. Each camera needs at least ``k + 1`` images, so that both sides hold
    every camera. Both lists are in natural name order.
    """
    stems = list(stems)
    if isinstance(test_per_camera, bool) or not isinstance(test_per_camera, int) or test_per_camera < 1:
        raise ValueError(f"test_per_camera must be a positive integer, got {test_per_camera!r}")
    if len(set(stems)) != len(stems):
        raise ValueError(f"realsr_split: repeated stems in {stems}")
    by_camera: dict[str, list[str]] = {}
    for s in stems:
        by_camera.setdefault(camera_of(s), []).append(s)
    test: set[str] = set()
    for camera, members in sorted(by_camera.items()):
        members.sort(key=lambda s: (_number(s), s))
        n, k = len(members), test_per_camera
        if n < k + 1:
            raise ValueError(f"realsr_split: camera {camera} has {n} image(s); {k} test image(s) per camera "
                             f"leave none for training (use a smaller test_per_camera)")
        test.update(members[int((j + 0.5) * n / k)] for j in range(k))
    order = sorted(stems, key=lambda s: _natural_key(Path(s)))
    return {"train": [s for s in order if s not in test], "test": [s for s in order if s in test]}


class RealSR:
    """The checked real pairs of one split: ``len``, ``stems``, ``ds[i] -> (stem, lr_uint8, hr_uint8)``.

    ``split``: ``"train"``, ``"test"`` or ``"all"`` (:func:`realsr_split` with ``test_per_camera``).
    ``name``: the registry name (a "pairs" dataset with ``same_size``; default ``RealSR``).
    Every pair of the split is read and checked at construction (see the module docstring); the arrays
    are read-only and shared with the in-memory cache. ``pairs()`` is the list for
    :class:`~srlib.data.PatchSampler` (``same_size=True``).
    """

    def __init__(self, split: str = "all", test_per_camera: int = TEST_PER_CAMERA, name: str = DATASET):
        if split not in SPLITS:
            raise ValueError(f"RealSR split {split!r} is not one of {list(SPLITS)}")
        s = spec(name)
        if s.kind != "pairs":
            raise DataError(f"dataset {s.name} is of kind {s.kind!r}, not 'pairs'")
        self.name, self.split, self.test_per_camera = s.name, split, test_per_camera
        lr_paths, hr_paths = self._paths(s)
        stems = sorted(hr_paths, key=lambda t: _natural_key(Path(t)))
        if split == "all":
            chosen = stems
        else:
            chosen = realsr_split(stems, test_per_camera)[split]
        self.stems = chosen
        self.lr_paths = [lr_paths[t] for t in chosen]
        self.hr_paths = [hr_paths[t] for t in chosen]
        self._pairs = [load_pair(lr, hr, s.name) for lr, hr in zip(self.lr_paths, self.hr_paths)]

    @staticmethod
    def _paths(s) -> tuple[dict, dict]:
        base = dataset_dir(s.name)
        hr = {p.stem: p for p in _glob(base / s.hr_dir, s.pattern)}
        lr = {p.stem: p for p in _glob(base / s.lr_dir, s.pattern)}
        for stem in sorted(set(hr) - set(lr)):
            raise DataError(f"dataset {s.name}: {hr[stem]} has no LR partner "
                            f"({base / s.lr_dir / hr[stem].name} is missing); {_remedy(s)}")
        for stem in sorted(set(lr) - set(hr)):
            raise DataError(f"dataset {s.name}: {lr[stem]} has no HR partner "
                            f"({base / s.hr_dir / lr[stem].name} is missing); {_remedy(s)}")
        if len(hr) != s.count:
            raise DataError(f"dataset {s.name}: found {len(hr)} pairs in {base}, expected {s.count}; {_remedy(s)}")
        return lr, hr

    def __len__(self) -> int:
        return len(self._pairs)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray, np.ndarray]:
        lr, hr = self._pairs[i]
        return self.stems[i], lr, hr

    def pairs(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``[(stem, lr, hr)]`` in split order (for PatchSampler(..., same_size=True))."""
        return [self[i] for i in range(len(self))]

    def cameras(self) -> list[str]:
        return sorted({camera_of(t) for t in self.stems})

    def __repr__(self) -> str:
        return f"RealSR(split={self.split!r}, {len(self)} pairs, cameras {self.cameras()})"


def _read(path: Path) -> np.ndarray:
    """load_image through the in-memory cache *without* putting anything in it (the pair is not checked yet)."""
    arr = IMAGE_CACHE.get(("img",) + _file_key(path))
    if arr is not None:
        return arr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrayscaleImageWarning)
        return load_image(path)


def load_pair(lr_path, hr_path, name: str = DATASET) -> tuple[np.ndarray, np.ndarray]:
    """One checked same-size pair ``(lr, hr)`` (uint8, read-only); cached in memory only when it passes.

    DataError naming the file when one is missing or unreadable, naming both when their sizes differ.
    """
    lr_path, hr_path = Path(lr_path), Path(hr_path)
    for p, partner in ((lr_path, hr_path), (hr_path, lr_path)):
        if not p.is_file():
            raise DataError(f"dataset {name}: {p} is missing (the partner of {partner}); put the pair back or remove both")
    lr, hr = _read(lr_path), _read(hr_path)
    if lr.shape != hr.shape:
        raise DataError(f"dataset {name}: LR {lr_path} is {lr.shape[1]}x{lr.shape[0]} but HR {hr_path} is "
                        f"{hr.shape[1]}x{hr.shape[0]}; the real pairs must be the same size and aligned "
                        f"(replace the pair; nothing was cached for it)")
    for p, a in ((lr_path, lr), (hr_path, hr)):
        IMAGE_CACHE.put(("img",) + _file_key(p), a)
    return lr, hr
