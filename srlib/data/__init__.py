"""Datasets: registry, data roots, verification, fetch, image IO, LR cache and patch sampler.

The package re-exports the public names of its modules, so ``from srlib import data`` then
``data.lr_pairs(...)`` works as before the split:

``srlib.data.datasets``
    registry (:class:`DatasetSpec`, :data:`DATASETS`, :func:`spec`), data roots, :func:`list_images`,
    :func:`list_pairs`, :func:`load_image`, :func:`save_png`, the image LRU (:data:`IMAGE_CACHE`),
    :func:`hr_images`, :func:`lr_pairs` and the bicubic LR cache, :func:`labelled_images`.
``srlib.data.sampler``
    :class:`PatchSampler` (training patches).
``srlib.data.realsr``
    :class:`RealSR` (the checked real LR/HR pairs of a split) and :func:`realsr_split` (the fixed
    train/test rule that keeps both cameras on each side).
``srlib.data.files``
    :func:`verify` against MANIFEST.tsv (or a labelled set's labels file), :func:`pixel_sha256`, :func:`fetch`
    (download and unpack).
``srlib.data.labelled``
    :func:`load_labelled`: a labelled set (imagewoof320) checked and loaded as RGB images with class ids.
``srlib.data.cli``
    the ``python -m srlib data`` command.

Importing it does not import torch. Settings such as ``REPO_ROOT``, ``SHARED_DATA`` and the root
functions are read from :mod:`srlib.data.datasets` at call time: tests patch them there (patching
the re-exported name on this package would not reach the code).
"""
from srlib.data.datasets import (
    DATASETS,
    IMAGE_CACHE,
    LR_METHOD,
    REGISTRY_JSON,
    SHARED_DATA,
    DataError,
    DatasetSpec,
    GrayscaleImageWarning,
    ImageConversionWarning,
    cache_dir,
    check_labels,
    data_roots,
    dataset_dir,
    find_root,
    hr_images,
    labelled_images,
    list_images,
    list_pairs,
    load_image,
    lr_cache_path,
    lr_pairs,
    prepare_lr_cache,
    save_png,
    spec,
)
from srlib.data.files import fetch, manifest_path, pixel_sha256, verify
from srlib.data.labelled import LabelledImage, load_labelled
from srlib.data.realsr import RealSR, camera_of, load_pair, realsr_split
from srlib.data.sampler import PatchSampler, item_shape

__all__ = [
    "DATASETS",
    "IMAGE_CACHE",
    "LR_METHOD",
    "REGISTRY_JSON",
    "SHARED_DATA",
    "DataError",
    "DatasetSpec",
    "GrayscaleImageWarning",
    "ImageConversionWarning",
    "LabelledImage",
    "PatchSampler",
    "RealSR",
    "cache_dir",
    "check_labels",
    "camera_of",
    "data_roots",
    "dataset_dir",
    "fetch",
    "find_root",
    "hr_images",
    "item_shape",
    "labelled_images",
    "list_images",
    "list_pairs",
    "load_image",
    "load_labelled",
    "load_pair",
    "lr_cache_path",
    "lr_pairs",
    "manifest_path",
    "pixel_sha256",
    "prepare_lr_cache",
    "realsr_split",
    "save_png",
    "spec",
    "verify",
]
