"""PSPL loss hook: SSIM map, attention limits, detached weights, step state, bases."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from srlib import losses
from srlib.losses import pspl
from srlib.losses.pspl import PSPLLoss, attention_map, pspl_weights, similarity_map

torch.set_num_threads(1)


def loop_ssim_map(x, y, c1, c2, window=11, sigma=1.5):
    """SSIM map by a direct loop over zero-padded Gaussian windows (float64 numpy)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    g = np.exp(-((np.arange(window) - window // 2) ** 2) / (2 * sigma**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    r = window // 2
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (r, r), (r, r)))
    yp = np.pad(y, ((0, 0), (0, 0), (r, r), (r, r)))
    out = np.empty_like(x)
    for b in range(n):
        for ch in range(c):
            for i in range(h):
                for j in range(wd):
                    px = xp[b, ch, i:i + window, j:j + window]
                    py = yp[b, ch, i:i + window, j:j + window]
                    mx, my = (w * px).sum(), (w * py).sum()
                    vx = (w * px * px).sum() - mx * mx
                    vy = (w * py * py).sum() - my * my
                    cxy = (w * px * py).sum() - mx * my
                    out[b, ch, i, j] = ((2 * mx * my + c1) * (2 * cxy + c2)) / (
                        (mx * mx + my * my + c1) * (vx + vy + c2))
    return out


class Canvas(nn.Module):
    """A 'model' whose output is a free parameter of HR size (so d loss / d SR is its gradient)."""

    def __init__(self, sr, colors=3):
        super().__init__()
        self.sr = nn.Parameter(sr.clone())
        self.colors = colors
        self.scale = 1

    def forward(self, lr):
        return self.sr


def pair(seed=0, shape=(2, 3, 24, 20)):
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(shape, generator=g)
    sr = (hr + 0.15 * torch.randn(shape, generator=g)).clamp(0, 1)
    return sr, hr


@pytest.mark.parametrize("mode", ["code", "paper"])
def test_similarity_map_equals_direct_windowed_loop(mode):
    sr, hr = pair(1, (1, 2, 13, 15))
    c1, c2 = pspl.ssim_constants(mode)
    expected = loop_ssim_map(sr.double().numpy(), hr.double().numpy(), c1, c2)
    got = similarity_map(sr.double(), hr.double(), mode).numpy()
    assert got.shape == sr.shape
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # float32, the training dtype
    np.testing.assert_allclose(similarity_map(sr, hr, mode).numpy(), expected, atol=2e-5)


def test_code_constants_equal_the_code_on_0_255_data():
    """"code" = SSIM with C1 = 0.01^2, C2 = 0.03^2 applied to data in [0, 255]."""
    sr, hr = pair(2, (1, 1, 12, 12))
    on_255 = loop_ssim_map(sr.double().numpy() * 255, hr.double().numpy() * 255, 0.01**2, 0.03**2)
    np.testing.assert_allclose(similarity_map(sr.double(), hr.double(), "code").numpy(), on_255, atol=1e-9)
    # and differs from the paper's constants (which matter on [0, 1] data)
    paper = similarity_map(sr.double(), hr.double(), "paper").numpy()
    assert np.abs(paper - on_255).max() > 1e-3


def test_attention_map_limits_and_value():
    m_s = torch.tensor([-1.0, -0.999, -0.5, 0.0, 0.7, 1.0])
    tiny = attention_map(m_s, delta=1e-6)
    assert tiny[0] == 2.0 and torch.all(tiny[1:] < 1e-30)
    exact_zero = attention_map(m_s, delta=0.0)  # limit rule: no NaN
    assert torch.equal(exact_zero, torch.tensor([2.0, 0, 0, 0, 0, 0]))
    large = attention_map(m_s, delta=1e6)
    torch.testing.assert_close(large, torch.full_like(m_s, 2.0), rtol=1e-9, atol=0)
    assert attention_map(torch.tensor([0.0]), delta=1.0).item() == pytest.approx(2 * math.exp(-1))
    assert attention_map(torch.tensor([0.0]), gamma=3.0, mu=0.0, delta=0.5).item() == pytest.approx(3.0)


@pytest.mark.parametrize("base", ["l1", "l2"])
def test_gradient_treats_attention_as_constant(base):
    sr, hr = pair(3)
    model = Canvas(sr)
    hook = PSPLLoss(base=base)
    hook.iterations = 1999  # this call uses step = 2, delta = 2: weights well inside (0, 2)
    loss, logs = hook(model, {"lr": hr, "hr": hr}, 1999)
    loss.backward()
    w = pspl_weights(sr, hr, 2.0)
    assert 0.01 < w.mean() < 1.99 and w.std() > 0.01
    n = sr.numel()
    if base == "l1":
        expected = w * torch.sign(w * (sr - hr)) / n
        torch.testing.assert_close(loss, F.l1_loss(w * sr, w * hr))
    else:
        expected = 2 * w * w * (sr - hr) / n
        torch.testing.assert_close(loss, F.mse_loss(w * sr, w * hr))
    torch.testing.assert_close(model.sr.grad, expected, rtol=1e-5, atol=1e-9)
    assert logs["delta"].item() == pytest.approx(2.0)
    torch.testing.assert_close(logs["m_a_mean"], w.mean())
    torch.testing.assert_close(logs["m_a_min"], w.min())
    torch.testing.assert_close(logs["m_a_max"], w.max())


def test_l1_and_l2_bases_differ_and_mse_is_l2():
    sr, hr = pair(4)
    batch = {"lr": hr, "hr": hr}
    out = {}
    for base in ["l1", "l2", "mse"]:
        hook = PSPLLoss(base=base)
        hook.iterations = 999
        out[base] = hook(Canvas(sr), batch, 999)[0].item()
    assert out["l2"] == out["mse"]
    assert out["l1"] > 2 * out["l2"] > 0  # |e| > e^2 for errors below 1


def test_step_advances_per_call_and_resume_restores_it():
    sr, hr = pair(5)
    batch = {"lr": hr, "hr": hr}
    hook = PSPLLoss(step_per_iteration=0.25)
    deltas = [hook(Canvas(sr), batch, i)[1]["delta"].item() for i in range(3)]
    assert deltas == [0.25, 0.5, 0.75]
    hook.eval()
    assert hook(Canvas(sr), batch, 3)[1]["delta"].item() == 0.75  # evaluation does not advance
    hook.train()

    restored = PSPLLoss(step_per_iteration=0.25)
    restored.load_state_dict(hook.state_dict())
    assert restored.iterations == 3 and restored.step == 0.75
    assert restored(Canvas(sr), batch, 3)[1]["delta"].item() == 1.0
    # through a torch.save round trip too, as the Trainer's checkpoint does
    import io

    buf = io.BytesIO()
    torch.save({"loss": restored.state_dict()}, buf)
    buf.seek(0)
    again = PSPLLoss(step_per_iteration=0.25)
    again.load_state_dict(torch.load(buf)["loss"])
    assert again.step == 1.0


def test_first_iteration_of_the_code_schedule_has_almost_no_loss():
    sr, hr = pair(6)
    hook = PSPLLoss()  # code defaults: first call uses step = 1e-3, delta = 1e-3
    loss, logs = hook(Canvas(sr), {"lr": hr, "hr": hr}, 0)
    assert logs["delta"].item() == pytest.approx(1e-3)
    assert loss.item() < 1e-12 and logs["m_a_max"].item() < 1e-12
    assert F.l1_loss(sr, hr).item() > 0.05


def test_flat_regions_with_code_constants_stay_finite():
    hr = torch.full((1, 3, 32, 32), 0.5)
    hr[..., 16:] = 0.8
    sr = hr + 0.01
    sr[..., :14, :14] = hr[..., :14, :14]  # an exactly equal flat corner
    hook = PSPLLoss()
    hook.iterations = 999
    loss, logs = hook(Canvas(sr), {"lr": hr, "hr": hr}, 0)
    assert torch.isfinite(loss) and 0 <= logs["m_a_min"] <= logs["m_a_max"] <= 2
    m_s = similarity_map(sr, hr, "code")
    assert not torch.isnan(m_s).any()
    assert torch.all(m_s[..., :9, :9] == 1.0)  # windows inside the equal corner: identical


def test_y_channel_model_gets_y():
    sr_y = torch.rand(1, 1, 16, 16)
    hr = torch.rand(1, 3, 16, 16)
    hook = PSPLLoss(base="l2")
    hook.iterations = 999
    loss, _ = hook(Canvas(sr_y, colors=1), {"lr": hr, "hr": hr}, 0)
    from srlib.degrade import rgb_to_y_torch

    y = rgb_to_y_torch(hr)
    w = pspl_weights(sr_y, y, 1.0)
    torch.testing.assert_close(loss, F.mse_loss(w * sr_y, w * y))


def test_registered_and_bad_arguments_are_named():
    assert isinstance(losses.build("pspl", base="mse"), PSPLLoss)
    with pytest.raises(ValueError, match="'l3'"):
        PSPLLoss(base="l3")
    with pytest.raises(ValueError, match="'matlab'"):
        PSPLLoss(ssim_constants="matlab")
    with pytest.raises(ValueError, match="alpha.*-1"):
        PSPLLoss(alpha=-1)
    with pytest.raises(ValueError, match="delta.*-0.5"):
        attention_map(torch.zeros(1), delta=-0.5)
    hook = PSPLLoss()
    with pytest.raises(ValueError, match="scale"):
        hook(Canvas(torch.rand(1, 3, 8, 8)), {"lr": torch.rand(1, 3, 4, 4), "hr": torch.rand(1, 3, 16, 16)}, 0)


def test_zero_padding_raises_border_similarity_and_reflect_removes_the_bias():
    """On a stationary noisy pair, the code's zero padding makes M_s higher within 5 px of the border
    (so PSPL weighs those pixels less while delta is small); reflect padding gives the border the
    interior's statistics."""
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(8, 3, 32, 32, generator=g)
    sr = (hr + 0.3 * torch.randn(hr.shape, generator=g)).clamp(0, 1)
    band = torch.zeros(32, 32, dtype=torch.bool)
    band[:5] = band[-5:] = True
    band[:, :5] = band[:, -5:] = True
    stats = {}
    for padding in ("zero", "reflect"):
        m_s = similarity_map(sr, hr, padding=padding)
        m_a = attention_map(m_s, delta=1.0)  # at small delta the ratio is a ratio of rare tails: noisy
        stats[padding] = (m_s[..., band].mean().item(), m_s[..., ~band].mean().item(),
                          m_a[..., band].mean().item() / m_a[..., ~band].mean().item())
    zero_border, zero_inside, zero_ratio = stats["zero"]
    refl_border, refl_inside, refl_ratio = stats["reflect"]
    assert zero_inside == pytest.approx(refl_inside, abs=1e-6)  # interior windows never see the padding
    assert zero_border > zero_inside + 0.03
    assert abs(refl_border - refl_inside) < 0.01
    assert zero_ratio < 0.9 and 0.95 < refl_ratio < 1.05
    hook = PSPLLoss(ssim_padding="reflect")
    assert "ssim_padding='reflect'" in repr(hook)
    with pytest.raises(ValueError, match="ssim_padding"):
        PSPLLoss(ssim_padding="circular")


def test_mu_plus_one_weights_easy_pixels_first():
    """The 'easy first' control: with mu = +1 the pixels most similar to HR get the largest weights."""
    sr, hr = pair(3)
    m_s = similarity_map(sr, hr)
    hard = attention_map(m_s, mu=-1.0, delta=0.5)
    easy = attention_map(m_s, mu=1.0, delta=0.5)
    best, worst = m_s.flatten().argmax(), m_s.flatten().argmin()
    assert easy.flatten()[best] > easy.flatten()[worst]
    assert hard.flatten()[best] < hard.flatten()[worst]


def test_shuffled_weights_keep_the_distribution_and_lose_the_placement():
    sr, hr = pair(4, shape=(2, 3, 16, 16))
    m_a = pspl_weights(sr, hr, delta=0.7)
    shuffled = pspl.shuffle_pixels(m_a, seed=5)
    # the same values in every (sample, channel): the weight distribution is unchanged
    assert torch.equal(m_a.flatten(2).sort(dim=2).values, shuffled.flatten(2).sort(dim=2).values)
    # ... but at other pixels, and the same seed draws the same permutation (resume-safe)
    assert (shuffled != m_a).float().mean() > 0.9
    assert torch.equal(shuffled, pspl.shuffle_pixels(m_a, seed=5))
    assert not torch.equal(shuffled, pspl.shuffle_pixels(m_a, seed=6))
    # the hook uses it: same iteration, same loss; different from the SSIM-placed weights
    hooks = [PSPLLoss(beta=0.7, weights=w) for w in ("ssim", "shuffled", "shuffled")]
    model = Canvas(sr)
    losses_ = [h(model, {"lr": sr, "hr": hr}, 0)[0].item() for h in hooks]
    assert losses_[1] == losses_[2] and losses_[1] != losses_[0]
    with pytest.raises(ValueError, match="'random'"):
        PSPLLoss(weights="random")
