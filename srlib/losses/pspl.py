"""Pixel-level Self-Paced Learning (PSPL, Lin et al., ICASSP 2020) as a loss hook.

The paper (Sec. 2) and the authors' code (EDSR-PyTorch fork, ``src/loss/__init__.py``):

    M_s   = SSIM map between SR and HR (Gaussian window 11, sigma 1.5, per channel, same size)
    M_a   = gamma * exp(-(M_s - mu)^2 / delta^2)          Eq. (7), gamma = 2, mu = -1
    delta = alpha * step + beta                           Eq. (8), alpha = 1, beta = 0
    loss  = L(M_a * SR, M_a * HR)                         Eq. (10), L = L1 or L2

M_s and M_a are constants of each step (no gradient flows through them). Pixels whose
neighbourhood is least similar to HR (M_s near -1) get weights near gamma; as delta grows
every weight tends to gamma and PSPL becomes ``gamma * L``.

Where the paper is silent, this hook follows the authors' code by default:

* **What a "step" is.** The code keeps ``age``, adds ``1 / len(loader)`` to it *before* each
  iteration's loss (an EDSR-PyTorch "epoch" is 1000 batches, so 1/1000 per iteration) and
  uses ``delta = alpha * age + beta``. Here ``step = iterations * step_per_iteration`` with
  ``step_per_iteration=1e-3`` and the counter advanced before the weights are computed, so
  the first training call already uses ``step = 1e-3``. The other reading of the paper,
  one step = one iteration, is ``step_per_iteration=1``: delta then reaches 1 after a single
  iteration and PSPL is spent almost at once (see the chapter).
* **Early weights.** With beta = 0 the weights start near zero: at ``delta = 1e-3`` a pixel
  with ``M_s = 0`` gets ``2 exp(-10^6)`` = 0; only pixels with ``M_s`` within ~delta of -1
  count. While every weight underflows to exactly 0 the loss and its gradient are exactly 0, and so is
  Adam's step (zero first and second moments give a zero update, not a normalised full-size one): with
  the code's step the model does not move until delta is large enough for some weight to be non-zero in
  float32 (of the order of a hundred iterations; the chapter's part 1 measures it). Once a few weights are
  non-zero, Adam rescales their tiny gradients to full-size steps, so the loss being small does not
  make the updates small.
  ``delta = 0`` (e.g. ``beta = 0`` before any iteration) is the limit of Eq. (7): gamma where
  ``M_s == mu`` exactly, 0 elsewhere (the code's formula would give NaN there, 0/0).
* **SSIM constants** (``ssim_constants``). The code computes SSIM on data in [0, 255] with
  C1 = 0.01^2 and C2 = 0.03^2, the values meant for [0, 1]; relative to the data they are
  255^2 times smaller than the paper's (k L)^2. ``"code"`` (default) reproduces that on our
  [0, 1] data with C1 = (0.01/255)^2, C2 = (0.03/255)^2, which is the same formula exactly;
  ``"paper"`` uses C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 1.
* **Flat regions with the code's constants.** Where both local variances are zero the
  structure term is ~C2/C2; in float32 the variances are rounding residue (E[x^2] - mu^2)
  of the same order as C2, so the code's M_s there is rounding noise and can leave [-1, 1]
  (values up to ~4 seen). It is kept as is (no clamp), like the code: such pixels get
  weights near 0 (|M_s + 1| >= ~2) or exactly 0 (M_s = +-inf). The one value the code
  cannot survive, 0/0 = NaN, is set to M_s = 1 ("identical"), so the loss is always finite.
* **Border of the SSIM map** (``ssim_padding``). The code's SSIM (``pytorch_ssim``) zero-pads
  the window: within 5 px of a patch border M_s is biased upwards, so those pixels get lower
  weights than the interior while delta is small. ``"zero"`` (default) is the code's;
  ``"reflect"`` mirrors the patch instead. The share of pixels affected is 1 - (1 - 10/P)^2
  for HR patches of P px: 10% at P = 192 (the paper's x4 patches), 53% at P = 32 (the cpu
  profile), which is why the chapter measures it.
* **Base loss** (``base``): L1 by default; the code uses MSE for SRCNN, LapSRN and SRResNet.
* **alpha = 1**, as the paper says and as the code has had since the authors' commit 4c5da0a of
  2020-04-09 ("default alpha value = 1"; their first upload had 0.3).
* **Controls** (not in the paper; what a reviewer would ask): ``mu=+1`` puts the Gaussian's peak on the
  *easiest* pixels (self-paced learning as Kumar et al. define it weights easy samples first; PSPL's
  mu = -1 weights hard pixels first). ``weights="shuffled"`` keeps every M_a value of a patch but moves
  them to random pixels (a fresh permutation per sample and channel, drawn from a generator seeded by
  the iteration, so a resumed run draws the same ones): the same weight distribution with the
  hard-pixel information removed.
* The code does not checkpoint ``age`` (a resumed run restarts PSPL); this hook keeps the
  iteration counter in its ``state_dict`` so a resumed run continues where it stopped.

Y-channel models (``model.colors == 1``) see Y via :func:`srlib.losses.pixel.to_model_colors`.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from srlib.conventions import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW
from srlib.losses import LOSSES
from srlib.losses.pixel import to_model_colors

GAMMA = 2.0  # peak of the attention Gaussian (paper Sec. 2.3)
MU = -1.0  # its position: the lowest SSIM
ALPHA = 1.0  # growth of delta per step (paper; the code's default is 0.3)
BETA = 0.0  # delta at step 0
STEP_PER_ITERATION = 1e-3  # the code: age += 1/1000 per batch
CODE_DATA_RANGE = 255.0  # the code's rgb_range, on which it applied C1 = K1^2, C2 = K2^2
SSIM_CONSTANT_MODES = ("code", "paper")
WEIGHT_MODES = ("ssim", "shuffled")  # M_a where the SSIM map puts it, or the same values at random pixels
BASES = {"l1": F.l1_loss, "l2": F.mse_loss, "mse": F.mse_loss}


def ssim_constants(mode: str = "code", data_range: float = 1.0) -> tuple[float, float]:
    """(C1, C2) for SSIM on data spanning ``data_range``: the code's values or the paper's."""
    if mode == "paper":
        return (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    if mode == "code":
        rel = data_range / CODE_DATA_RANGE
        return (SSIM_K1 * rel) ** 2, (SSIM_K2 * rel) ** 2
    raise ValueError(f"ssim_constants must be one of {SSIM_CONSTANT_MODES}, got {mode!r}")


def _check_nonnegative(name: str, value) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"PSPL {name} must be a finite number >= 0, got {value!r}")
    return v


def similarity_map(sr: torch.Tensor, hr: torch.Tensor, ssim_constants_mode: str = "code",
                   padding: str = "zero") -> torch.Tensor:
    """M_s: per-channel SSIM map of SR against HR (same shape), no gradient, NaN (0/0) -> 1.

    ``padding``: what the SSIM window sees beyond the patch border (:func:`srlib.metrics.ssim_map`);
    ``"zero"`` is the code's.
    """
    from srlib.metrics import ssim_map

    if sr.shape != hr.shape or sr.dim() != 4:
        raise ValueError(
            f"similarity_map needs two (N, C, H, W) tensors of the same shape, got "
            f"{tuple(sr.shape)} and {tuple(hr.shape)}"
        )
    c1, c2 = ssim_constants(ssim_constants_mode, 1.0)
    with torch.no_grad():
        m_s = ssim_map(sr.detach(), hr.detach(), window=SSIM_WINDOW, sigma=SSIM_SIGMA,
                       data_range=1.0, c1=c1, c2=c2, padding=padding)
        return torch.nan_to_num_(m_s, nan=1.0, posinf=math.inf, neginf=-math.inf)


def attention_map(ssim_map: torch.Tensor, gamma: float = GAMMA, mu: float = MU, *, delta: float) -> torch.Tensor:
    """M_a = gamma * exp(-(M_s - mu)^2 / delta^2) (paper Eq. 7); delta = 0: gamma where M_s == mu, else 0."""
    gamma = _check_nonnegative("gamma", gamma)
    delta = _check_nonnegative("delta", delta)
    if not math.isfinite(float(mu)):
        raise ValueError(f"PSPL mu must be finite, got {mu!r}")
    if delta == 0.0:
        return (ssim_map == mu).to(ssim_map.dtype) * gamma
    return torch.exp(-(((ssim_map - mu) / delta) ** 2)) * gamma


def pspl_weights(sr: torch.Tensor, hr: torch.Tensor, delta: float, gamma: float = GAMMA, mu: float = MU,
                 ssim_constants_mode: str = "code", padding: str = "zero") -> torch.Tensor:
    """M_a for an SR/HR pair (N, C, H, W) in [0, 1] at a given delta; no gradient."""
    return attention_map(similarity_map(sr, hr, ssim_constants_mode, padding), gamma, mu, delta=delta)


def shuffle_pixels(weights: torch.Tensor, seed: int) -> torch.Tensor:
    """``weights`` (N, C, H, W) with each (sample, channel)'s values moved to random pixels (a permutation
    drawn from a CPU generator seeded by ``seed``): the same values, hence the same distribution."""
    n, c, h, w = weights.shape
    g = torch.Generator().manual_seed(int(seed))
    order = torch.argsort(torch.rand(n * c, h * w, generator=g), dim=1).to(weights.device)
    return torch.gather(weights.reshape(n * c, h * w), 1, order).reshape(n, c, h, w)


@LOSSES.register("pspl")
class PSPLLoss(nn.Module):
    """PSPL loss hook: ``loss, logs = hook(model, batch, iteration)``; see the module docstring.

    ``step`` = training calls so far x ``step_per_iteration`` (advanced before the weights are
    computed, in training mode only) and lives in ``state_dict()`` (restored on resume).
    ``logs``: the loss, mean/min/max of M_a, and delta.
    """

    def __init__(self, base: str = "l1", gamma: float = GAMMA, mu: float = MU, alpha: float = ALPHA,
                 beta: float = BETA, step_per_iteration: float = STEP_PER_ITERATION,
                 ssim_constants: str = "code", ssim_padding: str = "zero", weights: str = "ssim"):
        super().__init__()
        from srlib.metrics import SSIM_MAP_PADDINGS

        base = str(base).lower()
        if base not in BASES:
            raise ValueError(f"PSPL base must be one of {sorted(BASES)}, got {base!r}")
        if ssim_constants not in SSIM_CONSTANT_MODES:
            raise ValueError(f"PSPL ssim_constants must be one of {SSIM_CONSTANT_MODES}, got {ssim_constants!r}")
        if not math.isfinite(float(mu)):
            raise ValueError(f"PSPL mu must be finite, got {mu!r}")
        self.base = base
        self.gamma = _check_nonnegative("gamma", gamma)
        self.mu = float(mu)
        self.alpha = _check_nonnegative("alpha", alpha)
        self.beta = _check_nonnegative("beta", beta)
        self.step_per_iteration = _check_nonnegative("step_per_iteration", step_per_iteration)
        if ssim_padding not in SSIM_MAP_PADDINGS:
            raise ValueError(f"PSPL ssim_padding must be one of {SSIM_MAP_PADDINGS}, got {ssim_padding!r}")
        if weights not in WEIGHT_MODES:
            raise ValueError(f"PSPL weights must be one of {WEIGHT_MODES}, got {weights!r}")
        self.ssim_constants = ssim_constants
        self.ssim_padding = ssim_padding
        self.weights = weights
        self.iterations = 0  # training calls so far (the code's age * 1000)

    @property
    def step(self) -> float:
        return self.iterations * self.step_per_iteration

    @property
    def delta(self) -> float:
        """delta = alpha * step + beta (paper Eq. 8) at the current step."""
        return self.alpha * self.step + self.beta

    def get_extra_state(self):
        return {"iterations": self.iterations, "step_per_iteration": self.step_per_iteration}

    def set_extra_state(self, state):
        if not isinstance(state, dict) or "iterations" not in state:
            raise ValueError(f"PSPL state must be a dict with 'iterations', got {state!r}")
        self.iterations = int(state["iterations"])

    def extra_repr(self) -> str:
        return (f"base={self.base}, gamma={self.gamma}, mu={self.mu}, alpha={self.alpha}, beta={self.beta}, "
                f"step_per_iteration={self.step_per_iteration}, ssim_constants={self.ssim_constants!r}, "
                f"ssim_padding={self.ssim_padding!r}, weights={self.weights!r}, "
                f"iterations={self.iterations}")

    def forward(self, model, batch: dict, iteration: int):
        lr = to_model_colors(batch["lr"], model)
        hr = to_model_colors(batch["hr"], model).float()
        sr = model(lr).float()
        if sr.shape != hr.shape:
            raise ValueError(
                f"model output {tuple(sr.shape)} does not match HR {tuple(hr.shape)}; "
                "check the model's scale against the data's scale"
            )
        if self.training:
            self.iterations += 1  # like the code: age advances before this iteration's loss
        delta = self.delta
        m_a = pspl_weights(sr, hr, delta, self.gamma, self.mu, self.ssim_constants, self.ssim_padding)
        if self.weights == "shuffled":
            m_a = shuffle_pixels(m_a, seed=self.iterations)
        loss = BASES[self.base](m_a * sr, m_a * hr)
        logs = {
            "pspl": loss.detach(),
            "m_a_mean": m_a.mean(),
            "m_a_min": m_a.min(),
            "m_a_max": m_a.max(),
            "delta": torch.tensor(delta),
        }
        return loss, logs
