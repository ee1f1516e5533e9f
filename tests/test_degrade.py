"""srlib.degrade: MATLAB imresize (numpy and torch), modcrop, rgb2ycbcr, bicubic_lr, img2tensor/tensor2img."""
import math

import numpy as np
import pytest
import torch

from srlib.degrade import (
    bicubic_lr,
    cubic,
    img2tensor,
    imresize,
    imresize_torch,
    imresize_uint8,
    modcrop,
    resize_weights,
    rgb2ycbcr,
    rgb_to_y_torch,
    round_half_up_uint8,
    tensor2img,
)


def reference_resize_1d(v, out_len, scale):
    """MATLAB imresize along one axis, written out per output pixel (textbook, no matrices)."""
    n = len(v)
    width = 4.0 / scale if scale < 1 else 4.0
    out = np.zeros(out_len)
    for i in range(out_len):
        u = (i + 1) / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        acc, wsum = 0.0, 0.0
        for k in range(left, left + math.ceil(width) + 2):
            w = scale * cubic(np.array(scale * (u - k)))[()] if scale < 1 else cubic(np.array(u - k))[()]
            j = k - 1  # 0-based, then mirror symmetrically (edge pixel repeated)
            while j < 0 or j >= n:
                j = -j - 1 if j < 0 else 2 * n - 1 - j
            acc += w * v[j]
            wsum += w
        out[i] = acc / wsum
    return out


def reference_imresize(img, scale, out_hw=None):
    h, w = img.shape
    oh, ow = out_hw or (math.ceil(h * scale), math.ceil(w * scale))
    tmp = np.stack([reference_resize_1d(img[:, c], oh, scale) for c in range(w)], axis=1)
    return np.stack([reference_resize_1d(tmp[r], ow, scale) for r in range(oh)], axis=0)


def test_upscale_x2_uses_matlab_weights_analytically():
    # MATLAB's x2 bicubic taps are (-0.0234375, 0.2265625, 0.8671875, -0.0703125) (u = x/2 + 1/4),
    # with the edge pixel mirrored; for the row 1 2 3 4 that gives these exact values.
    out = imresize(np.array([[1.0, 2.0, 3.0, 4.0]]), 2)
    expected = [0.90625, 1.1796875, 1.7265625, 2.25, 2.75, 3.2734375, 3.8203125, 4.09375]
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[0], expected, atol=1e-12)
    np.testing.assert_allclose(out[1], expected, atol=1e-12)
    w = resize_weights(4, 8, 2.0)
    np.testing.assert_allclose(w[2], [0.203125, 0.8671875, -0.0703125, 0], atol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 2.0, 3.0, 0.7])
def test_imresize_matches_per_pixel_reference(scale):
    rng = np.random.default_rng(0)
    img = rng.random((13, 10)) * 255
    np.testing.assert_allclose(imresize(img, scale), reference_imresize(img, scale), atol=1e-9)


def test_output_size_is_matlab_ceil_and_constants_are_kept():
    assert imresize(np.zeros((5, 7)), 0.5).shape == (3, 4)
    assert imresize(np.zeros((9, 12, 3)), 1 / 3).shape == (3, 4, 3)
    assert imresize(np.zeros((4, 4)), output_shape=(7, 3)).shape == (7, 3)
    assert imresize(np.zeros((4, 6)), scale=(0.5, 2)).shape == (2, 12)
    np.testing.assert_allclose(imresize(np.full((12, 9), 77.0), 0.25), 77.0, atol=1e-10)


@pytest.mark.parametrize("scale,size", [(0.5, None), (1 / 3, None), (4, None), (None, (17, 5))])
def test_numpy_and_torch_agree(scale, size):
    rng = np.random.default_rng(1)
    img = rng.random((2, 3, 24, 19))
    want = np.stack([imresize(im.transpose(1, 2, 0), scale=scale, output_shape=size) for im in img])
    want = want.transpose(0, 3, 1, 2)
    got32 = imresize_torch(torch.from_numpy(img).float(), scale=scale, size=size)
    got64 = imresize_torch(torch.from_numpy(img), scale=scale, size=size)
    assert np.abs(got32.numpy() - want).max() < 1e-6
    assert np.abs(got64.numpy() - want).max() < 1e-12


def test_imresize_torch_is_differentiable():
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    imresize_torch(x, 0.5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_uint8_rounding_is_half_away_from_zero_and_clipped():
    np.testing.assert_array_equal(round_half_up_uint8([0.5, 1.5, 2.5, 2.49, -3, 300]), [1, 2, 3, 2, 0, 255])
    img = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    out = imresize_uint8(img, 0.5)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, round_half_up_uint8(imresize(img, 0.5)))


def test_modcrop():
    a = np.zeros((13, 10, 3), np.uint8)
    assert modcrop(a, 4).shape == (12, 8, 3)
    assert modcrop(a[..., 0], 3).shape == (12, 9)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(a, 0)
    with pytest.raises(ValueError, match="smaller than scale"):
        modcrop(np.zeros((2, 2)), 3)


def test_modcrop_non_integer_scale_keeps_ceil_of_lr_size_times_scale():
    a = np.zeros((256, 228, 3), np.uint8)
    assert modcrop(a, 2.5).shape == (255, 228, 3)  # LR 102 x 91: ceil(102 * 2.5) = 255, ceil(91 * 2.5) = 228
    assert modcrop(a, 1.27).shape == (256, 228, 3)  # LR 201 x 179: ceil(255.27) = 256, ceil(227.33) = 228
    assert modcrop(a, 2.0).shape == modcrop(a, 2).shape == (256, 228, 3)
    with pytest.raises(ValueError, match="modcrop: .*got 0.5"):
        modcrop(a, 0.5)


def test_imresize_with_scale_and_output_shape_uses_the_scale_for_the_weights():
    rng = np.random.default_rng(5)
    img = rng.random((8, 11))
    out = imresize(img, 0.4, output_shape=(3, 4))  # ceil(8 * 0.4) = 4 rows: the shape given wins
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, reference_imresize(img, 0.4, (3, 4)), atol=1e-12)
    np.testing.assert_allclose(out, imresize(img, 0.4)[:3, :4], atol=1e-12)  # same grid, rows cut
    x = torch.from_numpy(img)[None, None]
    np.testing.assert_allclose(imresize_torch(x, 0.4, size=(3, 4))[0, 0].numpy(), out, atol=1e-12)


@pytest.mark.parametrize("scale, hr_hw, lr_hw", [(2.5, (26, 31), (10, 12)), (1.27, (26, 31), (20, 24))])
def test_bicubic_lr_non_integer_scale_has_the_rule_size(scale, hr_hw, lr_hw):
    from srlib.conventions import hr_crop_size

    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, hr_hw + (3,), dtype=np.uint8)
    lr = bicubic_lr(hr, scale)
    assert lr.shape == lr_hw + (3,) and lr.dtype == np.uint8
    crop = hr[: hr_crop_size(hr_hw[0], scale), : hr_crop_size(hr_hw[1], scale)]
    want = np.stack([reference_imresize(crop[..., c].astype(np.float64), 1 / scale, lr_hw) for c in range(3)], -1)
    np.testing.assert_array_equal(lr, round_half_up_uint8(want))


def test_bicubic_lr_integer_scale_is_the_plain_matlab_call():
    rng = np.random.default_rng(6)
    hr = rng.integers(0, 256, (37, 41, 3), dtype=np.uint8)
    for s in (2, 3, 4):
        np.testing.assert_array_equal(bicubic_lr(hr, s), imresize_uint8(modcrop(hr, s), 1.0 / s))


def test_img2tensor_shapes_dtype_range_and_old_expression():
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    img[0, 0] = (0, 255, 128)
    x = img2tensor(img)
    assert x.shape == (1, 3, 5, 6) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    old = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div(255)[None]
    assert torch.equal(x, old)  # what models.super_resolve and metrics.evaluate_model wrote inline
    assert img2tensor(img[None].repeat(4, 0)).shape == (4, 3, 5, 6)
    assert img2tensor(img[..., 0]).shape == (1, 1, 5, 6)
    y = rgb2ycbcr(img) / 255.0
    assert torch.equal(img2tensor(y), torch.from_numpy(y).float()[None, None])  # float: cast only
    x[0, 0, 0, 0] = 0.5
    assert img[0, 0, 0] == 0  # a new tensor, not a view
    with pytest.raises(ValueError, match="shape"):
        img2tensor(np.zeros((5, 6, 4), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        img2tensor(np.zeros((5, 6, 3), np.int32))


def test_tensor2img_round_trip_rounding_and_shapes():
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    back = tensor2img(img2tensor(img))
    assert back.dtype == np.uint8 and back.shape == (5, 6, 3) and np.array_equal(back, img)
    batch = rng.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    assert np.array_equal(tensor2img(img2tensor(batch)), batch)
    assert np.array_equal(tensor2img(img2tensor(img[..., 1])), img[..., 1])  # one channel: (H, W)
    assert np.array_equal(tensor2img(img2tensor(img)[0]), img)  # (C, H, W) too
    x = torch.tensor([-0.2, 0.5 / 255, 1.5 / 255, 0.999, 1.7]).view(1, 1, 1, 5)
    assert tensor2img(x).tolist() == [[0, 0, 2, 255, 255]]  # clamped, torch.round (half to even)
    f = tensor2img(x, dtype=np.float64)
    assert f.dtype == np.float64 and f.min() == 0.0 and f.max() == 1.0
    w = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert tensor2img(w * 1.0).shape == (4, 4, 3)  # detached
    with pytest.raises(ValueError, match="float"):
        tensor2img(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError):
        tensor2img(img)


def test_rgb2ycbcr_constants():
    img = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(rgb2ycbcr(img)[0], [235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])
    np.testing.assert_allclose(rgb2ycbcr(img.astype(np.float64) / 255), rgb2ycbcr(img))
    full = rgb2ycbcr(np.full((1, 1, 3), 128, np.uint8), only_y=False)
    np.testing.assert_allclose(full[0, 0, 1:], [128.0, 128.0], atol=1e-9)  # grey has no chroma
    x = torch.from_numpy(img.transpose(2, 0, 1)[None].astype(np.float64) / 255)
    np.testing.assert_allclose(rgb_to_y_torch(x)[0, 0].numpy(), rgb2ycbcr(img) / 255, atol=1e-12)


def test_bicubic_lr_modcrops_and_rounds():
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (26, 31, 3), dtype=np.uint8)
    lr = bicubic_lr(hr, 4)
    assert lr.shape == (6, 7, 3) and lr.dtype == np.uint8
    np.testing.assert_array_equal(lr, imresize_uint8(hr[:24, :28], 0.25))
    with pytest.raises(ValueError, match="uint8"):
        bicubic_lr(hr.astype(np.float32), 2)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="positive"):
        imresize(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match="positive"):
        imresize(np.zeros((4, 4)), -2)
    with pytest.raises(ValueError, match="positive"):
        imresize(np.zeros((4, 4)), float("nan"))
    with pytest.raises(ValueError, match="empty"):
        imresize(np.zeros((0, 4)), 2)
    with pytest.raises(ValueError, match="shape"):
        imresize(np.zeros((2, 4, 4, 3)), 2)
    with pytest.raises(ValueError, match="give scale=, output_shape= or both"):
        imresize(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        imresize_torch(torch.zeros(3, 4, 4), 2)
    with pytest.raises(ValueError, match="float"):
        imresize_torch(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match="RGB"):
        rgb2ycbcr(np.zeros((4, 4)))
