"""Datasets: the registry, the data roots, file listing, image IO and the HR/LR access with its caches.

Holds :class:`DatasetSpec` and :data:`DATASETS` (from ``data/registry.json``); the data roots
(:func:`data_roots`, :func:`cache_dir`, :func:`find_root`, :func:`dataset_dir`); :func:`list_images` and
:func:`list_pairs`; :func:`load_image` and :func:`save_png`; the in-memory image LRU
(:data:`IMAGE_CACHE`); :func:`hr_images`, :func:`lr_pairs` and the on-disk bicubic LR cache
(:func:`lr_cache_path`, :func:`prepare_lr_cache`); :func:`labelled_images`.

A dataset is looked up in the data roots, in this order: ``$SRLIB_DATA``, ``<repo>/data``,
``<repo>/../shared/data`` (read-only); the first root holding its directory wins.
Caches (LR images, verification stamps) live under ``$SRLIB_CACHE`` or ``<repo>/data/cache``.
Every error about data is a :class:`DataError` naming the file or dataset and the remedy.

``REPO_ROOT``, ``SHARED_DATA`` and the root functions are looked up in this module at call time by
the other modules of :mod:`srlib.data` (``files``, ``cli``): patch them here, not on the package.
"""
from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from srlib import REPO_ROOT
from srlib.atomic import atomic_open, write_text
from srlib.conventions import as_scale, hr_crop_size, lr_size, scale_tag
from srlib.registry import Registry

REGISTRY_JSON = REPO_ROOT / "data" / "registry.json"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
LR_METHOD = "bicubic-matlab"


class DataError(ValueError):
    """A problem with a dataset or an image file; the message names the file and the remedy."""


class ImageConversionWarning(UserWarning):
    """An image was converted on load (alpha dropped, palette expanded, gray replicated)."""


class GrayscaleImageWarning(ImageConversionWarning):
    """A grayscale image was replicated to 3 channels (e.g. Set14 bridge.png, a legitimate case)."""


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset as described in data/registry.json."""

    name: str
    kind: str  # "hr" | "pairs" | "labelled"
    count: int
    dir: str | None = None
    pattern: str = "*.png"
    split: str = ""
    members: tuple[str, ...] = ()
    hr_dir: str = "HR"
    lr_dir: str = "LR"
    same_size: bool = False
    labels: str | None = None
    fetch: dict | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def fetchable(self) -> bool:
        return bool(self.fetch and self.fetch.get("url"))


DATASETS = Registry("dataset")
_SPEC_KEYS = {f for f in DatasetSpec.__dataclass_fields__} - {"extra"}


def _load_registry(path: Path = REGISTRY_JSON) -> None:
    try:
        entries = json.loads(path.read_text())["datasets"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read the dataset registry {path}: {e}; restore it with `git checkout -- {path}`") from e
    for entry in entries:
        if entry.get("kind") not in ("hr", "pairs", "labelled"):
            raise DataError(f"{path}: dataset {entry.get('name')!r} has kind {entry.get('kind')!r}; use hr, pairs or labelled")
        kwargs = {k: v for k, v in entry.items() if k in _SPEC_KEYS}
        kwargs["members"] = tuple(kwargs.get("members", ()))
        spec = DatasetSpec(**kwargs, extra={k: v for k, v in entry.items() if k not in _SPEC_KEYS})
        DATASETS.register(spec.name)(spec)


_load_registry()


def spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (case-insensitive); KeyError lists the known names."""
    return DATASETS.get(name)


# ----------------------------------------------------------------------------- roots


def data_roots() -> list[Path]:
    """The data roots, searched in order: $SRLIB_DATA, <repo>/data, <repo>/../shared/data."""
    roots = []
    if os.environ.get("SRLIB_DATA"):
        roots.append(Path(os.environ["SRLIB_DATA"]).expanduser())
    roots += [REPO_ROOT / "data", SHARED_DATA]
    return roots


def cache_dir() -> Path:
    """Where caches live: $SRLIB_CACHE, else <repo>/data/cache."""
    return Path(os.environ.get("SRLIB_CACHE") or REPO_ROOT / "data" / "cache").expanduser()


def _default_dest_root() -> Path:
    """Where ``fetch`` unpacks by default: $SRLIB_DATA, else <repo>/data."""
    return Path(os.environ["SRLIB_DATA"]).expanduser() if os.environ.get("SRLIB_DATA") else REPO_ROOT / "data"


def _remedy(s: DatasetSpec) -> str:
    if s.fetchable:
        return f"run `python -m srlib data fetch {s.name}`"
    if s.kind == "pairs":
        what, where = f"{s.count} LR/HR pairs ({s.pattern})", f"<root>/{s.dir}/{{{s.hr_dir},{s.lr_dir}}}/"
    else:
        what = f"{s.count} images ({s.pattern})"
        where = f"<root>/{s.dir}/" if s.dir else " and ".join(f"<root>/{spec(m).dir}/" for m in s.members)
    return (f"put its {what} under {where} in one of the roots (see data/README.md), "
            f"or run `python -m srlib data fetch {s.name} --url URL` with an archive of them")


def find_root(name: str) -> Path | None:
    """The first data root that has the directory of ``name``, or None."""
    s = spec(name)
    if s.members:
        raise DataError(f"dataset {s.name} combines {', '.join(s.members)}; look up each member instead")
    for root in data_roots():
        if (root / s.dir).is_dir():
            return root
    return None


def dataset_dir(name: str) -> Path:
    """Directory of dataset ``name`` in the first root that has it; DataError with the remedy if none."""
    s = spec(name)
    root = find_root(s.name)
    if root is None:
        searched = ", ".join(str(r) for r in data_roots())
        raise DataError(f"dataset {s.name} not found: no {s.dir}/ under any data root ({searched}); {_remedy(s)}")
    return root / s.dir


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.as_posix())]


def _glob(base: Path, pattern: str) -> list[Path]:
    """Files below ``base`` matching ``pattern`` case-insensitively, in natural order."""
    depth = pattern.count("/")
    pat = pattern.lower()
    found = []
    for p in base.glob("/".join(["*"] * (depth + 1))):
        if p.is_file() and fnmatch.fnmatch(p.relative_to(base).as_posix().lower(), pat):
            found.append(p)
    return sorted(found, key=_natural_key)


def list_images(name: str) -> list[Path]:
    """The image files of ``name`` (HR images for pairs datasets), checked against the expected count."""
    s = spec(name)
    if s.members:
        return [p for m in s.members for p in list_images(m)]
    base = dataset_dir(s.name)
    if s.kind == "pairs":
        base = base / s.hr_dir
    files = _glob(base, s.pattern)
    if len(files) != s.count:
        raise DataError(f"dataset {s.name}: found {len(files)} files matching {s.pattern} in {base}, expected {s.count}; "
                        f"the copy is incomplete or has extra files: {_remedy(s)} "
                        f"(and `python -m srlib data verify {s.name}`)")
    return files


def list_pairs(name: str) -> list[tuple[Path, Path]]:
    """(lr_path, hr_path) of a "pairs" dataset, matched by file name."""
    s = spec(name)
    if s.kind != "pairs":
        raise DataError(f"dataset {s.name} is of kind {s.kind!r}, not 'pairs'; use lr_pairs({s.name!r}, scale) for bicubic LR")
    out = []
    for hr in list_images(s.name):
        lr = hr.parent.parent / s.lr_dir / hr.name
        if not lr.is_file():
            raise DataError(f"dataset {s.name}: LR file {lr} is missing for {hr}; {_remedy(s)}")
        out.append((lr, hr))
    return out


# ----------------------------------------------------------------------------- image IO


def _png_bit_depth(path: Path) -> int | None:
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def load_image(path, keep_gray: bool = False) -> np.ndarray:
    """Read an 8-bit image as uint8 (H, W, 3) RGB.

    Grayscale is replicated to 3 channels (``GrayscaleImageWarning``; ``keep_gray=True`` returns
    (H, W) instead, without warning); RGBA/LA lose alpha and palette/CMYK/1-bit images are converted
    (``ImageConversionWarning``). Missing, corrupt, truncated and 16-bit files raise DataError.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"image file {path} does not exist; check the path or run `python -m srlib data list`")
    if _png_bit_depth(path) == 16:
        raise DataError(f"{path} is a 16-bit PNG; srlib reads 8-bit images only: convert it to 8 bits "
                        f"(e.g. PIL: Image.fromarray((arr >> 8).astype('uint8'))) and save it again")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
                raise DataError(f"{path} has {'16-bit' if mode.startswith('I;16') else '32-bit'} pixels (mode {mode}); "
                                f"srlib reads 8-bit images only: convert it to 8 bits and save it again")
            if mode == "RGB":
                return np.asarray(im, dtype=np.uint8).copy()
            if mode == "L":
                gray = np.asarray(im, dtype=np.uint8).copy()
                if keep_gray:
                    return gray
                warnings.warn(f"{path} is grayscale: replicated to 3 channels", GrayscaleImageWarning, stacklevel=2)
                return np.repeat(gray[:, :, None], 3, axis=2)
            if mode in ("LA", "La", "1"):
                gray = np.asarray(im.convert("L"), dtype=np.uint8).copy()
                what = "alpha dropped" if mode != "1" else "converted from 1-bit"
                if keep_gray:
                    warnings.warn(f"{path} is grayscale with mode {mode}: {what}", ImageConversionWarning, stacklevel=2)
                    return gray
                warnings.warn(f"{path} is grayscale with mode {mode}: {what}, replicated to 3 channels",
                              GrayscaleImageWarning, stacklevel=2)
                return np.repeat(gray[:, :, None], 3, axis=2)
            if mode == "P" and "transparency" in im.info:
                what = "palette expanded, transparency dropped"
            else:
                what = {"RGBA": "alpha channel dropped", "RGBa": "alpha channel dropped", "P": "palette expanded to RGB"}.get(
                    mode, f"converted from mode {mode} to RGB")
            rgb = im.convert("RGBA").convert("RGB") if mode == "P" else im.convert("RGB")
            warnings.warn(f"{path}: {what}", ImageConversionWarning, stacklevel=2)
            return np.asarray(rgb, dtype=np.uint8).copy()
    except DataError:
        raise
    except UnidentifiedImageError as e:
        raise DataError(f"{path} is not a readable image (corrupt or wrong format); replace the file "
                        f"(re-fetch the dataset, then `python -m srlib data verify`)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path} is corrupt or truncated ({e}); replace the file "
                        f"(re-fetch the dataset, then `python -m srlib data verify`)") from e


def save_png(path, img: np.ndarray) -> None:
    """Write a uint8 (H, W) or (H, W, 3) image as PNG atomically (temp file, then rename)."""
    from PIL import Image

    with atomic_open(path, "wb") as f:
        Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(f, format="PNG")


# ----------------------------------------------------------------------------- in-memory LRU


class _ArrayLRU:
    """Thread-safe LRU of numpy arrays bounded by total bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, arr: np.ndarray) -> None:
        if arr.nbytes > self.max_bytes:
            return
        arr.setflags(write=False)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key).nbytes
            self._items[key] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


IMAGE_CACHE = _ArrayLRU(int(float(os.environ.get("SRLIB_IMAGE_CACHE_MB", "1024")) * 2**20))


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _cached_load(path: Path) -> np.ndarray:
    """load_image through the in-memory LRU (arrays are read-only: copy before writing)."""
    key = ("img",) + _file_key(path)
    arr = IMAGE_CACHE.get(key)
    if arr is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GrayscaleImageWarning)
            arr = load_image(path)
        IMAGE_CACHE.put(key, arr)
    return arr


# ----------------------------------------------------------------------------- HR / LR access


def _modcrop(img: np.ndarray, scale) -> np.ndarray:
    """Top-left crop to :func:`srlib.conventions.hr_crop_size` (a multiple of an integer ``scale``)."""
    h, w = img.shape[:2]
    return img[: hr_crop_size(h, scale), : hr_crop_size(w, scale)]


def _check_scale(scale) -> int | float:
    """The canonical scale (int, or float for a non-integer one): :func:`srlib.conventions.as_scale`."""
    return as_scale(scale)


def hr_images(name: str, scale=None) -> list[tuple[str, np.ndarray]]:
    """[(stem, hr_uint8)] of dataset ``name``; cropped to the HR size of ``scale`` when given
    (a multiple of an integer scale; see :mod:`srlib.conventions` for non-integer ones).

    Arrays may be shared with the in-memory cache and are read-only: copy before modifying.
    """
    if scale is not None:
        scale = _check_scale(scale)
    out = []
    for path in list_images(name):
        hr = _cached_load(path)
        out.append((path.stem, _modcrop(hr, scale) if scale else hr))
    return out


def lr_cache_path(name: str, scale, stem: str) -> Path:
    """Where the bicubic LR of ``stem`` is cached: <cache>/lr/<name>/bicubic-matlab/<tag>/<stem>.png,
    ``tag`` = :func:`srlib.conventions.scale_tag` (x2, x2.5, x1.27)."""
    return cache_dir() / "lr" / spec(name).name / LR_METHOD / scale_tag(scale) / f"{stem}.png"


def _stamp_key(paths: Iterable[Path]) -> dict:
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in paths}


def _lr_stamp(name: str, scale) -> Path:
    return cache_dir() / "lr" / spec(name).name / LR_METHOD / scale_tag(scale) / "COMPLETE.json"


def _bicubic_lr():
    try:
        from srlib.degrade import bicubic_lr
    except ImportError as e:
        raise DataError(f"srlib.degrade.bicubic_lr is not available ({e}); the LR cache cannot be built without it") from e
    return bicubic_lr


_LR_CACHE_CHECKED: set = set()


# (stamp file, probe scales, the cache folders a changed fingerprint empties, relative to <cache>/lr)
_LR_FINGERPRINTS = (("DEGRADE.sha256", (2, 3, 4), "*"),
                    ("DEGRADE-noninteger.sha256", (2.5, 1.27), f"*/{LR_METHOD}/x*.*"))


def _check_lr_cache_version() -> None:
    """Empty <cache>/lr when bicubic_lr's behaviour changed since the cache was built (once per process).

    The fingerprint is the sha256 of bicubic_lr's output on a fixed random image at x2, x3, x4 (a few
    ms), kept in <cache>/lr/DEGRADE.sha256: edits to srlib/degrade.py that change no pixel keep the cache.
    A second one at x2.5 and x1.27 (DEGRADE-noninteger.sha256) empties only the non-integer folders.
    """
    lr_root = cache_dir() / "lr"
    if str(lr_root) in _LR_CACHE_CHECKED:
        return
    try:
        bicubic_lr = _bicubic_lr()
    except DataError:
        return  # raised again, with its message, when an LR image is actually needed
    probe = np.random.default_rng(20240601).integers(0, 256, (37, 41, 3), dtype=np.uint8)
    for stamp_name, scales, folders in _LR_FINGERPRINTS:
        h = hashlib.sha256()
        for sc in scales:
            h.update(np.ascontiguousarray(bicubic_lr(probe.copy(), sc), dtype=np.uint8).tobytes())
        fingerprint = h.hexdigest()
        stamp = lr_root / stamp_name
        old = stamp.read_text().strip() if stamp.is_file() else None
        if old != fingerprint:
            if lr_root.is_dir():
                for child in lr_root.glob(folders):
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
            write_text(stamp, fingerprint + "\n")
    _LR_CACHE_CHECKED.add(str(lr_root))


def _lr_of(name: str, scale, path: Path, hr: np.ndarray, stats: dict | None = None) -> np.ndarray:
    """Bicubic LR of one modcropped HR image: memory cache, then disk cache, then compute."""
    _check_lr_cache_version()
    want = (lr_size(hr.shape[0], scale), lr_size(hr.shape[1], scale))
    cpath = lr_cache_path(name, scale, path.stem)
    key = ("lr", LR_METHOD, scale) + _file_key(path)
    lr = IMAGE_CACHE.get(key)
    if lr is not None:
        return lr
    if cpath.is_file() and cpath.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        try:
            lr = load_image(cpath)
        except DataError:
            lr = None  # a broken cache file is rebuilt below
        if lr is not None and lr.shape[:2] != want:
            lr = None
    if lr is None:
        lr = np.asarray(_bicubic_lr()(np.ascontiguousarray(hr), scale), dtype=np.uint8)
        if lr.shape[:2] != want:
            raise DataError(f"bicubic_lr returned shape {lr.shape} for {path} at {scale_tag(scale)}, expected {want}")
        save_png(cpath, lr)
        if stats is not None:
            stats["computed"] = stats.get("computed", 0) + 1
    IMAGE_CACHE.put(key, lr)
    return lr


def lr_pairs(name: str, scale) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(stem, lr_uint8, hr_uint8)]: bicubic LR of the modcropped HR, cached on disk and in memory.

    ``scale`` is an integer or a non-integer > 1 (2.5, 1.27): HR crop and LR size follow
    :mod:`srlib.conventions` (LR ``floor(H / s)``, HR ``ceil(floor(H / s) * s)``). For a "pairs"
    dataset (RealSR) the real LR/HR pairs are returned as they are (same size; ``scale``
    is then only nominal). Arrays are read-only: copy before modifying.
    """
    scale = _check_scale(scale)
    s = spec(name)
    if s.members:
        return [t for m in s.members for t in lr_pairs(m, scale)]
    if s.kind == "pairs":
        out = []
        for lr_path, hr_path in list_pairs(s.name):
            lr, hr = _cached_load(lr_path), _cached_load(hr_path)
            if s.same_size and lr.shape != hr.shape:
                raise DataError(f"dataset {s.name}: {lr_path} is {lr.shape[1]}x{lr.shape[0]} but {hr_path} is "
                                f"{hr.shape[1]}x{hr.shape[0]}; the pairs must be the same size: {_remedy(s)}")
            out.append((hr_path.stem, lr, hr))
        return out
    out = []
    for path in list_images(s.name):
        hr = _modcrop(_cached_load(path), scale)
        out.append((path.stem, _lr_of(s.name, scale, path, hr), hr))
    return out


def prepare_lr_cache(name: str, scale, progress: bool = True) -> int:
    """Build the on-disk LR cache of ``name`` at ``scale``; returns how many LR images were computed.

    A stamp (file names, sizes, mtimes) makes the second call a few stat() calls.
    """
    scale = _check_scale(scale)
    s = spec(name)
    if s.members:
        return sum(prepare_lr_cache(m, scale, progress) for m in s.members)
    files = list_images(s.name)
    _check_lr_cache_version()
    stamp = _lr_stamp(s.name, scale)
    key = _stamp_key(files)
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == key and all(lr_cache_path(s.name, scale, p.stem).is_file() for p in files):
                return 0
        except ValueError:
            pass
    stats: dict = {}
    it = files
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(files, desc=f"LR {s.name} {scale_tag(scale)}", unit="img", leave=False, file=sys.stderr)
    for path in it:
        cpath = lr_cache_path(s.name, scale, path.stem)
        if cpath.is_file() and cpath.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            continue  # lr_pairs checks the shape when it reads it
        _lr_of(s.name, scale, path, _modcrop(_cached_load(path), scale), stats)
    write_text(stamp, json.dumps(key, sort_keys=True))
    return stats.get("computed", 0)


#: columns a labels file must have; per-class columns (one value per class folder) checked when present
LABEL_COLUMNS = ("relative_path", "split", "class_id")
PER_CLASS_COLUMNS = ("wnid", "class_name", "imagenet1k_index")


def check_labels(name: str) -> list[dict]:
    """The rows of a "labelled" dataset's labels file, checked against the files on disk; DataError naming
    the file otherwise.

    Checked: the required columns (:data:`LABEL_COLUMNS`); each file listed once; every listed file present
    and no image file (``pattern``) that is not listed; ``class_id`` an integer, one per class folder (the
    folder above the file, the wnid for imagewoof320), distinct folders distinct ids, and with the registry's
    ``"class_ids": "sorted-folders"`` equal to the folder's rank in sorted order (imagewoof320: 0-9 in
    sorted-wnid order); a ``wnid`` column equal to the folder; other per-class columns
    (:data:`PER_CLASS_COLUMNS`) constant within a folder; ``split`` equal to the top folder of a
    ``split/class/file`` path; the row count equal to the registry's ``count``. File checksums are
    :func:`srlib.data.verify`'s (it runs this first). Each row is returned as a dict with an int ``class_id``
    and its ``line`` in the file.
    """
    from collections import Counter

    s = spec(name)
    if s.kind != "labelled" or not s.labels:
        raise DataError(f"dataset {s.name} is of kind {s.kind!r} and has no labels file; use list_images({s.name!r})")
    base = dataset_dir(s.name)
    lpath = base / s.labels
    if not lpath.is_file():
        raise DataError(f"dataset {s.name}: labels file {lpath} is missing; {_remedy(s)}")
    with open(lpath, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        lacking = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or ())]
        if lacking:
            raise DataError(f"{lpath} lacks the column(s) {', '.join(lacking)} (has {reader.fieldnames}); "
                            f"restore the original file")
        rows = [dict(r, line=n) for n, r in enumerate(reader, start=2)]
    seen: dict[str, int] = {}
    for r in rows:
        rel = r["relative_path"] or ""
        if not rel or rel in seen:
            what = "an empty relative_path" if not rel else f"{base / rel} a second time (first on line {seen[rel]})"
            raise DataError(f"{lpath} line {r['line']} lists {what}; restore the original file")
        seen[rel] = r["line"]
        try:
            r["class_id"] = int(r["class_id"])
        except (TypeError, ValueError):
            raise DataError(f"{lpath} line {r['line']}: class_id {r['class_id']!r} of {base / rel} is not an integer; "
                            f"correct the row or restore the original file") from None
    missing = [rel for rel in seen if not (base / rel).is_file()]
    if missing:
        raise DataError(f"dataset {s.name}: {base / missing[0]} is listed in {lpath} (line {seen[missing[0]]}) but "
                        f"missing ({len(missing)} missing file(s)); {_remedy(s)}")
    extra = [p for p in _glob(base, s.pattern) if p.relative_to(base).as_posix() not in seen]
    if extra:
        raise DataError(f"dataset {s.name}: {extra[0]} is not listed in {lpath} ({len(extra)} unlisted file(s)); "
                        f"remove it, or restore the original labels file if it belongs to the set")

    def folder(r):
        return Path(r["relative_path"]).parent.name

    folders = sorted({folder(r) for r in rows})
    if s.extra.get("class_ids") == "sorted-folders":
        expected = {w: k for k, w in enumerate(folders)}
        why = "class ids are the class folders' ranks in sorted order"
    else:
        expected = {w: Counter(r["class_id"] for r in rows if folder(r) == w).most_common(1)[0][0] for w in folders}
        why = "the id of most files in that folder"
        dup = Counter(expected.values())
        clash = sorted(w for w in folders if dup[expected[w]] > 1)
        if clash:
            raise DataError(f"{lpath}: class folders {', '.join(clash)} share class_id {expected[clash[0]]}; "
                            f"correct the rows or restore the original file")
    per_class = {c: {w: Counter(r[c] for r in rows if folder(r) == w).most_common(1)[0][0] for w in folders}
                 for c in PER_CLASS_COLUMNS if c in rows[0] and c != "wnid"} if rows else {}
    for r in rows:
        w, path = folder(r), base / r["relative_path"]
        if r["class_id"] != expected[w]:
            raise DataError(f"{lpath} line {r['line']}: {path} has class_id {r['class_id']}, but its class folder {w} "
                            f"is class {expected[w]} ({why}); correct the row or restore the original file")
        if "wnid" in r and r["wnid"] != w:
            raise DataError(f"{lpath} line {r['line']}: {path} has wnid {r['wnid']!r} but lies in folder {w}; "
                            f"correct the row or move the file")
        for c, want in per_class.items():
            if r[c] != want[w]:
                raise DataError(f"{lpath} line {r['line']}: {path} has {c} {r[c]!r}, the other files of {w} have "
                                f"{want[w]!r}; correct the row or restore the original file")
        parts = Path(r["relative_path"]).parts
        if len(parts) == 3 and parts[0] != r["split"]:
            raise DataError(f"{lpath} line {r['line']}: {path} has split {r['split']!r} but lies in folder {parts[0]}/; "
                            f"correct the row or move the file")
    if len(rows) != s.count:
        raise DataError(f"{lpath} has {len(rows)} rows, dataset {s.name} has {s.count} images; restore the original "
                        f"labels file (or the registry entry)")
    return rows


def labelled_images(name: str, split: str | None = None) -> list[tuple[Path, int]]:
    """[(path, class_id)] of a "labelled" dataset from its labels file (checked by :func:`check_labels`:
    missing, unlisted or mislabelled files raise DataError naming them), optionally one ``split``.
    :func:`srlib.data.load_labelled` also checks the checksums and loads the images."""
    base = dataset_dir(name)
    rows = check_labels(name)
    out = [(base / r["relative_path"], r["class_id"]) for r in rows if split is None or r["split"] == split]
    if not out:
        splits = sorted({r["split"] for r in rows})
        raise DataError(f"{base / spec(name).labels} has no rows for split {split!r}; splits there: {', '.join(splits)}")
    return out
