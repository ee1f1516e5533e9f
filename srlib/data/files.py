"""Dataset files: verification against MANIFEST.tsv (file and pixel sha256) and download/unpack (fetch).

Holds :func:`verify`, :func:`manifest_path`, :func:`pixel_sha256` and :func:`fetch` with its helpers
(download with a sha256, safe zip/tar extraction, locating the image folder in an archive). The data
roots, ``SHARED_DATA`` and the cache folder are read from :mod:`srlib.data.datasets` at call time.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from srlib.atomic import write_text
from srlib.data import datasets as _ds
from srlib.data.datasets import DataError, DatasetSpec, _glob, _remedy, dataset_dir, find_root, list_images, list_pairs, spec


# ----------------------------------------------------------------------------- verification


def manifest_path(root: Path | None = None) -> Path | None:
    """MANIFEST.tsv of ``root`` if it has one, else the shared one (None if neither exists)."""
    for cand in ([root / "MANIFEST.tsv"] if root else []) + [_ds.SHARED_DATA / "MANIFEST.tsv"]:
        if cand.is_file():
            return cand
    return None


def _read_manifest(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {r["relative_path"]: r for r in csv.DictReader(f, delimiter="\t")}


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MB chunks (the one file hash srlib uses)."""
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

    Without manifest rows for the dataset (e.g. a fetched DIV2K) only the file count is checked. A labelled
    dataset (imagewoof320) is checked against its labels file: :func:`srlib.data.check_labels` first (missing,
    unlisted and mislabelled files), then the ``sha256`` column.
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
    if s.kind == "labelled" and s.labels:  # missing, unlisted, mislabelled files: an error naming the file
        _ds.check_labels(s.name)
    files = list_images(s.name)
    if s.kind == "pairs":
        files = [p for pair in list_pairs(s.name) for p in pair]
    key = {"root": str(root.resolve()), "files": {p.relative_to(root).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns] for p in files}}
    stamp = _ds.cache_dir() / "verified" / f"{s.name}.json"
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
            if sha256_file(p) == row["sha256"]:
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


# ----------------------------------------------------------------------------- fetch


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
    root = Path(dest_root).expanduser() if dest_root else _ds._default_dest_root()
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
