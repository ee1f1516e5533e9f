"""Labelled datasets (imagewoof320) loaded as images with their classes: :func:`load_labelled`.

The labels file is checked first (:func:`srlib.data.check_labels`: a missing or unlisted file, a wrong
class id) and then every file's sha256 (:func:`srlib.data.verify`, stamped after the first success), each
failure a :class:`~srlib.data.DataError` naming the file. Images come as uint8 (H, W, 3) RGB: the grey
(mode ``L``) images of a set (12 of imagewoof320's 1,500; its JPEGs are kept as they were published) are
replicated to three equal channels, what PIL's ``convert("RGB")``, torchvision's ``ImageFolder`` and
pytorch-fid do, and are flagged ``grey=True``. They are loaded once per call: the 500 val images of
imagewoof320 take about 190 MB.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from srlib.data.datasets import DataError, check_labels, dataset_dir, load_image, spec
from srlib.data.files import verify


class LabelledImage(NamedTuple):
    """One image of a labelled dataset."""

    path: Path
    relative_path: str
    split: str
    class_id: int
    image: np.ndarray  # uint8 (H, W, 3) RGB; grey replicated
    grey: bool  # the file is single-channel (mode L) and was replicated to RGB


def load_labelled(name: str, split: str | None = None, check: bool = True) -> list[LabelledImage]:
    """The images of labelled dataset ``name`` (optionally one ``split``) with their class ids, in the order
    of the labels file. ``check=True`` verifies the sha256 of every file first (the whole set, stamped);
    the labels themselves are always checked."""
    rows = check_labels(name)
    if check:
        verify(name)
    base = dataset_dir(name)
    picked = [r for r in rows if split is None or r["split"] == split]
    if not picked:
        raise DataError(f"{base / spec(name).labels} has no rows for split {split!r}; splits there: "
                        f"{', '.join(sorted({r['split'] for r in rows}))}")
    out = []
    for r in picked:
        path = base / r["relative_path"]
        img = load_image(path, keep_gray=True)
        grey = img.ndim == 2
        if grey:
            img = np.repeat(img[:, :, None], 3, axis=2)
        out.append(LabelledImage(path, r["relative_path"], r["split"], r["class_id"], img, grey))
    return out
