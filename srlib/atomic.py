"""Atomic writes: nothing half-written is ever taken as finished.

Every file srlib writes goes through :func:`atomic_open`: the data lands in a temp file in the
same folder, is flushed to disk, and only then replaces the destination with ``os.replace``.
A crash leaves either the old file or the new one, never a torn one, and no stray temp file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", **kwargs):
    """``with atomic_open(path, "w") as f: ...`` writes ``path`` atomically (parents created)."""
    if not any(m in mode for m in "wx"):
        raise ValueError(f"atomic_open is for writing; got mode {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode.replace("x", "w"), **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def torch_save(obj, path) -> None:
    """``torch.save`` through :func:`atomic_open`."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def replace_dir(new, dest) -> None:
    """Put the finished directory ``new`` at ``dest`` (same file system), replacing what was there.

    The old ``dest`` is first renamed aside, then ``new`` is renamed into place, then the old one
    is deleted: at no time does ``dest`` hold a half-written tree.
    """
    import shutil

    new, dest = Path(new), Path(dest)
    old = dest.with_name(f".{dest.name}.old")
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)
