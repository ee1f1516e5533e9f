"""Datasets: registry, data roots, verification, fetch, image IO, LR cache and patch sampler.

Datasets are described in ``data/registry.json`` and registered in :data:`DATASETS`. A dataset is
looked up in the data roots, in this order: ``$SRLIB_DATA``, ``<repo>/data``,
``<repo>/../shared/data`` (read-only); the first root holding its directory wins.
Caches (LR images, verification stamps) live under ``$SRLIB_CACHE`` or ``<repo>/data/cache``.
Every error about data is a :class:`DataError` naming the file or dataset and the remedy.
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
import tarfile
import tempfile
import threading
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from srlib import REPO_ROOT
from srlib.atomic import atomic_open, write_text
from srlib.registry import Registry

REGISTRY_JSON = REPO_ROOT / "data" / "registry.json"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
LR_METHOD = "bicubic-matlab"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


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


def _modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer (2, 3, 4, ...), got {scale!r}")
    return int(scale)


def hr_images(name: str, scale: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(stem, hr_uint8)] of dataset ``name``; modcropped to a multiple of ``scale`` when given.

    Arrays may be shared with the in-memory cache and are read-only: copy before modifying.
    """
    if scale is not None:
        scale = _check_scale(scale)
    out = []
    for path in list_images(name):
        hr = _cached_load(path)
        out.append((path.stem, _modcrop(hr, scale) if scale else hr))
    return out


def lr_cache_path(name: str, scale: int, stem: str) -> Path:
    """Where the bicubic LR of ``stem`` is cached: <cache>/lr/<name>/bicubic-matlab/x<scale>/<stem>.png."""
    return cache_dir() / "lr" / spec(name).name / LR_METHOD / f"x{int(scale)}" / f"{stem}.png"


def _stamp_key(paths: Iterable[Path]) -> dict:
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in paths}


def _lr_stamp(name: str, scale: int) -> Path:
    return cache_dir() / "lr" / spec(name).name / LR_METHOD / f"x{int(scale)}" / "COMPLETE.json"


def _bicubic_lr():
    try:
        from srlib.degrade import bicubic_lr
    except ImportError as e:
        raise DataError(f"srlib.degrade.bicubic_lr is not available ({e}); the LR cache cannot be built without it") from e
    return bicubic_lr


_LR_CACHE_CHECKED: set = set()


def _check_lr_cache_version() -> None:
    """Empty <cache>/lr when bicubic_lr's behaviour changed since the cache was built (once per process).

    The fingerprint is the sha256 of bicubic_lr's output on a fixed random image at x2, x3, x4 (a few
    ms), kept in <cache>/lr/DEGRADE.sha256: edits to srlib/degrade.py that change no pixel keep the cache.
    """
    lr_root = cache_dir() / "lr"
    if str(lr_root) in _LR_CACHE_CHECKED:
        return
    try:
        bicubic_lr = _bicubic_lr()
    except DataError:
        return  # raised again, with its message, when an LR image is actually needed
    probe = np.random.default_rng(20240601).integers(0, 256, (37, 41, 3), dtype=np.uint8)
    h = hashlib.sha256()
    for sc in (2, 3, 4):
        h.update(np.ascontiguousarray(bicubic_lr(probe.copy(), sc), dtype=np.uint8).tobytes())
    fingerprint = h.hexdigest()
    stamp = lr_root / "DEGRADE.sha256"
    old = stamp.read_text().strip() if stamp.is_file() else None
    if old != fingerprint:
        if lr_root.is_dir():
            for child in lr_root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
        write_text(stamp, fingerprint + "\n")
    _LR_CACHE_CHECKED.add(str(lr_root))


def _lr_of(name: str, scale: int, path: Path, hr: np.ndarray, stats: dict | None = None) -> np.ndarray:
    """Bicubic LR of one modcropped HR image: memory cache, then disk cache, then compute."""
    _check_lr_cache_version()
    want = (hr.shape[0] // scale, hr.shape[1] // scale)
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
            raise DataError(f"bicubic_lr returned shape {lr.shape} for {path} at x{scale}, expected {want}")
        save_png(cpath, lr)
        if stats is not None:
            stats["computed"] = stats.get("computed", 0) + 1
    IMAGE_CACHE.put(key, lr)
    return lr


def lr_pairs(name: str, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(stem, lr_uint8, hr_uint8)]: bicubic LR of the modcropped HR, cached on disk and in memory.

    For a "pairs" dataset (RealSR) the real LR/HR pairs are returned as they are (same size; ``scale``
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


def prepare_lr_cache(name: str, scale: int, progress: bool = True) -> int:
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

        it = tqdm(files, desc=f"LR {s.name} x{scale}", unit="img", leave=False, file=sys.stderr)
    for path in it:
        cpath = lr_cache_path(s.name, scale, path.stem)
        if cpath.is_file() and cpath.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            continue  # lr_pairs checks the shape when it reads it
        _lr_of(s.name, scale, path, _modcrop(_cached_load(path), scale), stats)
    write_text(stamp, json.dumps(key, sort_keys=True))
    return stats.get("computed", 0)


def labelled_images(name: str, split: str | None = None) -> list[tuple[Path, int]]:
    """[(path, class_id)] of a "labelled" dataset from its labels file, optionally one ``split``."""
    s = spec(name)
    if s.kind != "labelled" or not s.labels:
        raise DataError(f"dataset {s.name} is of kind {s.kind!r} and has no labels file; use list_images({s.name!r})")
    base = dataset_dir(s.name)
    lpath = base / s.labels
    if not lpath.is_file():
        raise DataError(f"dataset {s.name}: labels file {lpath} is missing; {_remedy(s)}")
    with open(lpath, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    try:
        out = [(base / r["relative_path"], int(r["class_id"])) for r in rows if split is None or r["split"] == split]
    except (KeyError, ValueError) as e:
        raise DataError(f"{lpath} needs columns relative_path, split and integer class_id ({e}); restore the original file") from e
    if not out:
        splits = sorted({r.get("split", "") for r in rows})
        raise DataError(f"{lpath} has no rows for split {split!r}; splits there: {', '.join(splits)}")
    return out


# ----------------------------------------------------------------------------- verification


def manifest_path(root: Path | None = None) -> Path | None:
    """MANIFEST.tsv of ``root`` if it has one, else the shared one (None if neither exists)."""
    for cand in ([root / "MANIFEST.tsv"] if root else []) + [SHARED_DATA / "MANIFEST.tsv"]:
        if cand.is_file():
            return cand
    return None


def _read_manifest(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {r["relative_path"]: r for r in csv.DictReader(f, delimiter="\t")}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pixel_sha256(path: Path) -> str:
    """sha256 of the decoded pixels as in shared/data/SOURCES.md (no mode conversion)."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.ascontiguousarray(np.array(im))
    return hashlib.sha256(a.tobytes() + str(a.shape).encode()).hexdigest()


def verify(name: str, use_stamp: bool = True) -> dict:
    """Check every file of ``name`` against MANIFEST.tsv (file sha256, else pixel sha256).

    Without manifest rows for the dataset (e.g. a fetched DIV2K) only the file count is checked.
    Success is stamped under <cache>/verified/ keyed by file sizes and mtimes, so a second call
    does not rehash. Returns {"name", "files", "checked": "sha256"|"count", "cached": bool}.
    Raises DataError naming the first bad or missing file and what to do.
    """
    s = spec(name)
    if s.members:
        parts = [verify(m, use_stamp) for m in s.members]
        return {"name": s.name, "files": sum(p["files"] for p in parts),
                "checked": "+".join(sorted({p["checked"] for p in parts})), "cached": all(p["cached"] for p in parts)}
    root = find_root(s.name)
    if root is None:
        dataset_dir(s.name)  # raises the missing-dataset error
    files = list_images(s.name)
    if s.kind == "pairs":
        files = [p for pair in list_pairs(s.name) for p in pair]
    key = {"root": str(root.resolve()), "files": {p.relative_to(root).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns] for p in files}}
    stamp = cache_dir() / "verified" / f"{s.name}.json"
    if use_stamp and stamp.is_file():
        try:
            saved = json.loads(stamp.read_text())
            if saved.get("key") == key:
                return {"name": s.name, "files": len(files), "checked": saved.get("checked", "sha256"), "cached": True}
        except ValueError:
            pass
    mpath = manifest_path(root)
    rows = {}
    prefix = s.dir.rstrip("/") + "/"
    if s.labels and (root / s.dir / s.labels).is_file():  # imagewoof320: sha256 column of LABELS.tsv
        mpath = root / s.dir / s.labels
        rows = {prefix + rel: r for rel, r in _read_manifest(mpath).items()}
    elif mpath is not None:
        rows = {rel: r for rel, r in _read_manifest(mpath).items() if rel.startswith(prefix)}
    checked = "count"
    if rows:
        checked = "sha256"
        present = {p.relative_to(root).as_posix(): p for p in files}
        for rel, row in sorted(rows.items()):
            p = root / rel
            if rel not in present and not p.is_file():
                raise DataError(f"dataset {s.name}: {p} is listed in {mpath} but missing; {_remedy(s)}")
            if _sha256_file(p) == row["sha256"]:
                continue
            if row.get("pixel_sha256") and pixel_sha256(p) == row["pixel_sha256"]:
                continue
            raise DataError(f"dataset {s.name}: {p} does not match {mpath} (neither file nor pixel sha256); "
                            f"the file was modified or damaged: replace it with the original ({_remedy(s)})")
        extra = sorted(set(present) - set(rows))
        if extra:
            raise DataError(f"dataset {s.name}: {root / extra[0]} is not listed in {mpath}; remove it "
                            f"({len(extra)} unlisted file(s))")
    write_text(stamp, json.dumps({"key": key, "checked": checked}, sort_keys=True))
    return {"name": s.name, "files": len(files), "checked": checked, "cached": False}


# ----------------------------------------------------------------------------- patch sampler


def _as_pair(item, lr_fn):
    """Normalise one sampler item to (stem, lr or None, hr)."""
    if isinstance(item, np.ndarray):
        return ("", None, item)
    item = tuple(item)
    if len(item) == 3:
        return item
    if len(item) == 2:
        if isinstance(item[0], str):
            return (item[0], None, item[1])
        return ("", item[0], item[1])
    raise DataError(f"PatchSampler items must be (stem, lr, hr), (lr, hr), (stem, hr) or an HR array; got {len(item)} values")


class PatchSampler:
    """Random aligned LR/HR patches; ``batch(i)`` is a pure function of (seed, i).

    ``pairs``: the output of :func:`lr_pairs` (``(stem, lr, hr)``), or ``(lr, hr)`` tuples, or, with
    ``lr_fn``, HR-only items (``(stem, hr)`` or arrays): the LR patch is then ``lr_fn(hr_patch)``
    computed on the fly. HR sizes not divisible by ``scale`` are modcropped (bottom/right rows and
    columns dropped) before sampling. With ``same_size=True`` (real pairs of equal size) LR and HR
    patches are both ``patch`` pixels. Each sample draws an image uniformly, an aligned crop and,
    with ``augment``, one of the 8 dihedral transforms (hflip, vflip, rot90 combinations).
    Returns ``{"lr": float32 (N,3,p,p), "hr": float32 (N,3,p*s,p*s)}`` in [0, 1].
    """

    def __init__(self, pairs: Sequence, scale: int, patch: int = 48, batch: int = 16, augment: bool = True,
                 seed: int = 0, same_size: bool = False, lr_fn: Callable[[np.ndarray], np.ndarray] | None = None):
        self.scale = _check_scale(scale)
        if patch < 1 or batch < 1:
            raise ValueError(f"patch and batch must be >= 1, got patch={patch}, batch={batch}")
        self.patch, self.batch_size, self.augment, self.seed = int(patch), int(batch), bool(augment), int(seed)
        self.same_size, self.lr_fn = bool(same_size), lr_fn
        hs = 1 if self.same_size else self.scale
        self.hr_patch = self.patch * hs
        self.items = []
        for n, item in enumerate(pairs):
            stem, lr, hr = _as_pair(item, lr_fn)
            stem = stem or f"#{n}"
            if hr.ndim == 2:
                hr = np.repeat(hr[:, :, None], 3, axis=2)
            hr = hr if self.same_size else _modcrop(hr, self.scale)
            if lr is None:
                if lr_fn is None:
                    raise DataError(f"PatchSampler item {stem} has no LR image; pass (stem, lr, hr) or give lr_fn")
            else:
                if lr.ndim == 2:
                    lr = np.repeat(lr[:, :, None], 3, axis=2)
                want = hr.shape[:2] if self.same_size else (hr.shape[0] // self.scale, hr.shape[1] // self.scale)
                if lr.shape[:2] != want:
                    lr = lr[: want[0], : want[1]] if (lr.shape[0] >= want[0] and lr.shape[1] >= want[1]
                                                      and lr.shape[0] - want[0] < self.scale and lr.shape[1] - want[1] < self.scale) else None
                    if lr is None:
                        raise DataError(f"PatchSampler item {stem}: LR {item_shape(item)} does not match HR {hr.shape[:2]} at "
                                        f"x{self.scale}{' (same_size)' if self.same_size else ''}; give LR = HR/scale")
            h, w = hr.shape[:2]
            if h < self.hr_patch or w < self.hr_patch:
                raise DataError(f"PatchSampler: image {stem} is {w}x{h} (HR) but the HR patch is {self.hr_patch}x{self.hr_patch} "
                                f"(patch {self.patch} x scale {hs}); use a smaller patch (patch <= {min(h, w) // hs}) or drop the image")
            self.items.append((stem, None if lr is None else _pack_rgb(lr), _pack_rgb(hr)))
        if not self.items:
            raise DataError("PatchSampler got no images; pass a non-empty list (e.g. lr_pairs('T91', 2))")

    def __len__(self) -> int:
        return len(self.items)

    def plan(self, i: int) -> list[tuple[int, int, int, int]]:
        """(image index, top, left, transform 0..7) of each sample of batch ``i``, top/left in LR pixels."""
        rng = np.random.default_rng([self.seed, int(i)])
        hs = 1 if self.same_size else self.scale
        idx = rng.integers(0, len(self.items), size=self.batch_size)
        out = []
        for k in idx:
            h, w = self.items[k][2].shape[:2]
            top = int(rng.integers(0, h // hs - self.patch + 1))
            left = int(rng.integers(0, w // hs - self.patch + 1))
            t = int(rng.integers(0, 8)) if self.augment else 0
            out.append((int(k), top, left, t))
        return out

    @staticmethod
    def _transform(a: np.ndarray, t: int) -> np.ndarray:
        if t & 1:
            a = a[:, ::-1]
        if t & 2:
            a = a[::-1]
        if t & 4:
            a = a.T
        return a

    def batch(self, i: int) -> dict:
        """Batch ``i``: {"lr": float32 (N,3,p,p), "hr": float32 (N,3,P,P)} in [0, 1]; depends only on (seed, i)."""
        p, hp = self.patch, self.hr_patch
        hs = 1 if self.same_size else self.scale
        n = self.batch_size
        lr_buf = np.empty((n, p, p), np.uint32)
        hr_buf = np.empty((n, hp, hp), np.uint32)
        for j, (k, top, left, t) in enumerate(self.plan(i)):
            _, lr, hr = self.items[k]
            hr_crop = hr[top * hs: top * hs + hp, left * hs: left * hs + hp]
            if lr is None:
                lr_crop = np.asarray(self.lr_fn(np.ascontiguousarray(_unpack_rgb(hr_crop))), dtype=np.uint8)
                if lr_crop.ndim == 2:
                    lr_crop = np.repeat(lr_crop[:, :, None], 3, axis=2)
                if lr_crop.shape != (p, p, 3):
                    raise DataError(f"lr_fn returned shape {lr_crop.shape} for an HR patch of {hp}x{hp}; expected ({p}, {p}, 3)")
                lr_crop = _pack_rgb(lr_crop)
            else:
                lr_crop = lr[top: top + p, left: left + p]
            hr_buf[j] = self._transform(hr_crop, t)
            lr_buf[j] = self._transform(lr_crop, t)
        return {"lr": _packed_to_tensor(lr_buf), "hr": _packed_to_tensor(hr_buf)}


def _pack_rgb(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> uint32 (H, W), one pixel per element, so flips and transposes copy 4-byte
    elements instead of 3-byte strided runs (about 10x faster crops with augmentation)."""
    h, w = img.shape[:2]
    a = np.zeros((h, w, 4), np.uint8)
    a[:, :, :3] = img
    return a.view(np.uint32).reshape(h, w)


def _unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """uint32 (..., H, W) -> uint8 view (..., H, W, 3)."""
    return packed.view(np.uint8).reshape(packed.shape + (4,))[..., :3]


def _packed_to_tensor(buf: np.ndarray):
    """uint32 (N, H, W) packed RGB -> float32 (N, 3, H, W) in [0, 1], one torch.from_numpy."""
    import torch

    chw = np.ascontiguousarray(buf.view(np.uint8).reshape(buf.shape + (4,)).transpose(0, 3, 1, 2)[:, :3])
    return torch.from_numpy(chw).float().div_(255)


def item_shape(item) -> tuple:
    """Shapes of the arrays in a sampler item (for error messages)."""
    return tuple(getattr(x, "shape", None) for x in (item if isinstance(item, (tuple, list)) else [item]) if not isinstance(x, str))


# ----------------------------------------------------------------------------- fetch


def _default_dest_root() -> Path:
    return Path(os.environ["SRLIB_DATA"]).expanduser() if os.environ.get("SRLIB_DATA") else REPO_ROOT / "data"


def _download(url: str, dest: Path, progress: bool = True) -> str:
    """Download ``url`` to ``dest`` (a temp name), returning the sha256 of the bytes."""
    import urllib.request

    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"download {url.rsplit('/', 1)[-1]}", file=sys.stderr)
        try:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
                h.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return h.hexdigest()


def _safe_extract(archive: Path, dest: Path) -> None:
    dest_abs = dest.resolve()

    def check(member: str) -> None:
        target = (dest / member).resolve()
        if not str(target).startswith(str(dest_abs) + os.sep) and target != dest_abs:
            raise DataError(f"archive {archive} has an unsafe member path {member!r}; refusing to unpack it")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                check(m)
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                check(m.name)
                if m.issym() or m.islnk() or m.isdev():
                    raise DataError(f"archive {archive} has a link or device member {m.name!r}; refusing to unpack it")
            t.extractall(dest)
    else:
        raise DataError(f"downloaded file {archive} is neither a zip nor a tar archive; check the URL")


def _locate(unpacked: Path, s: DatasetSpec, archive_dir: str | None) -> Path:
    """The folder inside the unpacked archive that becomes <root>/<dir>."""
    if archive_dir:
        cand = unpacked / archive_dir
        if not cand.is_dir():
            raise DataError(f"archive for {s.name} has no folder {archive_dir}/; check the URL or the registry entry")
        return cand
    base = unpacked
    while True:  # descend through single-folder wrappers until the images (or HR/LR) are found
        inner = base / s.hr_dir if s.kind == "pairs" else base
        if _glob(inner, s.pattern) if inner.is_dir() else False:
            return base
        subdirs = [d for d in base.iterdir() if d.is_dir() and not d.name.startswith(("__MACOSX", "."))]
        if len(subdirs) != 1:
            return base
        base = subdirs[0]


def fetch(name: str, dest_root=None, url: str | None = None, sha256: str | None = None, progress: bool = True) -> Path:
    """Download and unpack dataset ``name`` into <dest_root>/<dir>; returns that directory.

    ``url``/``sha256`` override the registry (use them for sets without an official archive). The
    archive is downloaded and unpacked under a temporary folder in ``dest_root`` and renamed into
    place only after the sha256 (when known) and the image count check out, so an interrupted or bad
    download never looks finished and leaves nothing behind.
    """
    s = spec(name)
    if s.members:
        raise DataError(f"dataset {s.name} combines {', '.join(s.members)}; fetch each of them by name")
    info = dict(s.fetch or {})
    official = url is None or url == info.get("url")
    url = url or info.get("url")
    if not url:
        raise DataError(f"dataset {s.name} has no official download; {_remedy(s)}")
    expected = (sha256 or (info.get("sha256") if official else None) or "").lower() or None
    root = Path(dest_root).expanduser() if dest_root else _default_dest_root()
    target = root / s.dir
    if target.exists():
        raise DataError(f"{target} already exists; remove it first to fetch {s.name} again")
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".fetch-{s.name}-", dir=root))
    try:
        archive = work / "download.part"
        try:
            got = _download(url, archive, progress)
        except OSError as e:  # urllib.error.URLError/HTTPError are OSErrors
            raise DataError(f"download of {s.name} from {url} failed ({e}); check the URL and the connection: "
                            f"nothing was kept") from e
        if expected and got != expected:
            raise DataError(f"download of {s.name} from {url} has sha256 {got}, expected {expected}; "
                            f"the file is damaged or not the official archive: nothing was kept, try again or check the URL")
        unpacked = work / "unpacked"
        unpacked.mkdir()
        _safe_extract(archive, unpacked)
        archive.unlink()
        src = _locate(unpacked, s, info.get("archive_dir") if official else None)
        n = len(_glob(src / s.hr_dir if s.kind == "pairs" else src, s.pattern))
        if n != s.count:
            raise DataError(f"archive for {s.name} from {url} holds {n} files matching {s.pattern}, expected {s.count}; "
                            f"nothing was kept: check the URL")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _rmdir_empty_parents(target.parent, root)
    return target


def _rmdir_empty_parents(d: Path, stop: Path) -> None:
    """Remove empty folders from ``d`` up to (not including) ``stop``."""
    try:
        d, stop = d.resolve(), stop.resolve()
    except OSError:
        return
    while d != stop and stop in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


# ----------------------------------------------------------------------------- CLI

PREPARE_SETS = ("Set5", "Set14", "B100", "Urban100", "T91", "BSD200")
PREPARE_SCALES = (2, 3, 4)


def _cmd_list(args) -> int:
    print(f"{'name':<14}{'kind':<10}{'count':>6}  where")
    for key in DATASETS.names():
        s = spec(key)
        if s.members:
            where = "= " + " + ".join(s.members)
        else:
            root = find_root(s.name)
            where = str(root / s.dir) if root else f"missing ({'fetchable' if s.fetchable else 'put files in place, see data/README.md'})"
        print(f"{s.name:<14}{s.kind:<10}{s.count:>6}  {where}")
    print("roots searched in order: " + ", ".join(str(r) for r in data_roots()))
    return 0


def _present(name: str) -> bool:
    s = spec(name)
    return all(find_root(m) is not None for m in s.members) if s.members else find_root(s.name) is not None


def _cmd_verify(args) -> int:
    names = args.names or [n for n in DATASETS.names() if not spec(n).members and _present(n)]
    bad = 0
    for n in names:
        try:
            r = verify(n, use_stamp=not args.force)
            print(f"ok    {r['name']:<14}{r['files']:>5} files  ({r['checked']}{', cached' if r['cached'] else ''})")
        except (DataError, KeyError) as e:
            bad += 1
            print(f"FAIL  {n}: {e}")
    return 1 if bad else 0


def _cmd_prepare(args) -> int:
    bad = 0
    for n in PREPARE_SETS:
        if not _present(n):
            print(f"skip  {n}: not found ({_remedy(spec(n))})")
            continue
        try:
            r = verify(n)
            computed = sum(prepare_lr_cache(n, sc, progress=not args.quiet) for sc in args.scales)
            print(f"ok    {n:<10} verified{' (cached)' if r['cached'] else ''}, LR x{','.join(map(str, args.scales))}: "
                  f"{computed} computed")
        except DataError as e:
            bad += 1
            print(f"FAIL  {n}: {e}")
    for n in DATASETS.names():
        if spec(n).name not in PREPARE_SETS and not spec(n).members and _present(n):
            try:
                verify(n)
                print(f"ok    {spec(n).name:<10} verified")
            except DataError as e:
                bad += 1
                print(f"FAIL  {spec(n).name}: {e}")
    return 1 if bad else 0


def _cmd_fetch(args) -> int:
    try:
        path = fetch(args.name, dest_root=args.dest, url=args.url, sha256=args.sha256)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"fetched {spec(args.name).name} into {path}")
    return 0


def _add_arguments(parser) -> None:
    parser.description = ("Datasets: list where they are, verify them against MANIFEST.tsv, prepare the bicubic LR "
                          "caches, or fetch an archive. Roots searched in order: $SRLIB_DATA, <repo>/data, "
                          "<repo>/../shared/data.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="name, kind, image count and where each dataset was found (or that it is missing)")
    p = sub.add_parser("verify", help="check files against MANIFEST.tsv (sha256 of file or pixels); cached by size+mtime")
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: every dataset present)")
    p.add_argument("--force", action="store_true", help="rehash even if a verification stamp says the files are unchanged")
    p = sub.add_parser("prepare", help="verify present sets and build the bicubic LR caches (quick when already done)")
    p.add_argument("--scales", type=int, nargs="+", default=list(PREPARE_SCALES), metavar="S",
                   help="scales of the LR caches (default: 2 3 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p = sub.add_parser("fetch", help="download and unpack a dataset archive into the first writable root")
    p.add_argument("name", metavar="NAME", help="dataset name (see `data list`)")
    p.add_argument("--url", help="archive URL (zip or tar) instead of the registry's official one")
    p.add_argument("--sha256", help="expected sha256 of the archive (checked before unpacking)")
    p.add_argument("--dest", help="data root to unpack into (default: $SRLIB_DATA or <repo>/data)")


def _run(args) -> int:
    return {"list": _cmd_list, "verify": _cmd_verify, "prepare": _cmd_prepare, "fetch": _cmd_fetch}[args.action](args)


def cli_commands():
    return [("data", "list, verify, prepare (LR caches) or fetch the datasets", _add_arguments, _run)]
