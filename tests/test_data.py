"""Tests of srlib.data (package srlib/data/): roots, registry, image IO errors, verification, LR cache, patch sampler."""
import dataclasses
import hashlib
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import data as d
from srlib.data import datasets as ds  # REPO_ROOT, SHARED_DATA, the LR cache hooks: patched where they are read

REAL_SHARED = d.SHARED_DATA
SHARED_SET5 = REAL_SHARED / "benchmark" / "Set5" / "HR"
needs_shared_set5 = pytest.mark.skipif(not SHARED_SET5.is_dir(), reason="shared Set5 not present")


def _fake_set5(root: Path, size=(24, 20), seed=0) -> Path:
    out = root / "benchmark" / "Set5" / "HR"
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for n in ("baby", "bird", "butterfly", "head", "woman"):
        Image.fromarray(rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)).save(out / f"{n}.png")
    return out


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _write_png16_rgb(path: Path, h=4, w=5) -> None:
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    raw = b"".join(b"\x00" + np.full((w, 3), 1000, ">u2").tobytes() for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw))
                     + _png_chunk(b"IEND", b""))


def _box_down(hr: np.ndarray, scale: int) -> np.ndarray:
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    a = hr[: h * scale, : w * scale].astype(np.float64).reshape(h, scale, w, scale, -1).mean(axis=(1, 3))
    return np.round(a).astype(np.uint8)


# ----------------------------------------------------------------------------- registry and roots


def test_registry_has_the_assigned_datasets_with_kinds_and_counts():
    expected = {"set5": ("hr", 5), "set14": ("hr", 14), "b100": ("hr", 100), "urban100": ("hr", 100),
                "t91": ("hr", 91), "bsd200": ("hr", 200), "291": ("hr", 291), "realsr": ("pairs", 16),
                "imagewoof320": ("labelled", 1500), "div2k": ("hr", 800), "div2k_valid": ("hr", 100)}
    for name, (kind, count) in expected.items():
        s = d.spec(name)
        assert (s.kind, s.count) == (kind, count), name
    assert d.spec("291").members == ("T91", "BSD200")
    assert d.spec("DIV2K").fetch["url"] == "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip"
    assert d.spec("RealSR").dir == "realsr/NTIRE2019_RealSR_val"


def test_package_reexports_and_patch_points(isolated):
    from srlib.data import cli, files, sampler

    assert d.lr_pairs is ds.lr_pairs and d.verify is files.verify and d.PatchSampler is sampler.PatchSampler
    assert not hasattr(d, "IMAGE_SUFFIXES")
    # the roots are read from srlib.data.datasets at call time, also by files and cli
    (isolated["shared"] / "MANIFEST.tsv").write_text("dataset\trelative_path\tsha256\tpixel_sha256\n")
    assert files.manifest_path() == isolated["shared"] / "MANIFEST.tsv"
    assert ds._default_dest_root() == isolated["env"]
    assert [c[0] for c in cli.cli_commands()] == ["data"]


def test_unknown_dataset_name_lists_known_ones():
    with pytest.raises(KeyError, match="known datasets: .*set14"):
        d.list_images("Set6")
    with pytest.raises(KeyError, match="Set6"):
        d.lr_pairs("Set6", 2)


def test_missing_dataset_names_roots_and_remedy(isolated):
    with pytest.raises(d.DataError) as e:
        d.dataset_dir("DIV2K")
    msg = str(e.value)
    assert "DIV2K" in msg and "python -m srlib data fetch DIV2K" in msg
    for root in ("env", "repo_data", "shared"):
        assert str(isolated[root]) in msg
    with pytest.raises(d.DataError, match=r"put its 5 images .*benchmark/Set5/HR"):
        d.list_images("Set5")


def test_root_resolution_order(isolated, monkeypatch):
    _fake_set5(isolated["shared"])
    assert d.dataset_dir("Set5") == isolated["shared"] / "benchmark/Set5/HR"
    _fake_set5(isolated["repo_data"])
    assert d.dataset_dir("set5") == isolated["repo_data"] / "benchmark/Set5/HR"
    _fake_set5(isolated["env"])
    assert d.dataset_dir("SET5") == isolated["env"] / "benchmark/Set5/HR"
    assert [p.name for p in d.list_images("Set5")] == ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
    monkeypatch.delenv("SRLIB_DATA")
    assert d.dataset_dir("Set5") == isolated["repo_data"] / "benchmark/Set5/HR"


def test_incomplete_dataset_is_an_error(isolated):
    out = _fake_set5(isolated["env"])
    (out / "bird.png").unlink()
    with pytest.raises(d.DataError, match="found 4 .* expected 5"):
        d.list_images("Set5")


@needs_shared_set5
def test_shared_benchmark_sets_are_listed():
    assert len(d.list_images("Set5")) == 5
    assert [p.stem for p in d.list_images("Set5")][:2] == ["baby", "bird"]


# ----------------------------------------------------------------------------- load_image


def test_load_image_rgb_roundtrip(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "x.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = d.load_image(tmp_path / "x.png")
    assert b.dtype == np.uint8 and np.array_equal(a, b)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(d.DataError, match="nope.png does not exist"):
        d.load_image(tmp_path / "nope.png")


def test_load_image_corrupt_file(tmp_path):
    p = tmp_path / "corrupt.png"
    p.write_bytes(b"this is not an image" * 10)
    with pytest.raises(d.DataError, match="corrupt.png is not a readable image"):
        d.load_image(p)


def test_load_image_truncated_file(tmp_path):
    a = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(d.DataError, match="cut.png is corrupt or truncated"):
        d.load_image(tmp_path / "cut.png")


def test_load_image_16bit_png_rejected(tmp_path):
    Image.fromarray(np.full((4, 5), 1000, np.uint16)).save(tmp_path / "g16.png")
    _write_png16_rgb(tmp_path / "rgb16.png")
    for name in ("g16.png", "rgb16.png"):
        with pytest.raises(d.DataError, match=f"{name} is a 16-bit PNG.*convert it to 8 bits"):
            d.load_image(tmp_path / name)


def test_load_image_grayscale_is_replicated_with_warning(tmp_path):
    g = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(g, "L").save(tmp_path / "gray.png")
    with pytest.warns(d.GrayscaleImageWarning, match="gray.png is grayscale"):
        a = d.load_image(tmp_path / "gray.png")
    assert a.shape == (4, 5, 3) and all(np.array_equal(a[:, :, c], g) for c in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(d.load_image(tmp_path / "gray.png", keep_gray=True), g)
    assert issubclass(d.GrayscaleImageWarning, d.ImageConversionWarning)


def test_load_image_rgba_la_and_palette_converted_with_warning(tmp_path):
    rgba = np.random.default_rng(3).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    with pytest.warns(d.ImageConversionWarning, match="rgba.png: alpha channel dropped"):
        assert np.array_equal(d.load_image(tmp_path / "rgba.png"), rgba[:, :, :3])
    Image.fromarray(rgba[:, :, :2], "LA").save(tmp_path / "la.png")
    with pytest.warns(d.GrayscaleImageWarning, match="la.png .*alpha dropped"):
        assert np.array_equal(d.load_image(tmp_path / "la.png")[:, :, 2], rgba[:, :, 0])
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[1, 2] = (255, 0, 0)
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    with pytest.warns(d.ImageConversionWarning, match="pal.png: palette expanded"):
        assert np.array_equal(d.load_image(tmp_path / "pal.png"), rgb)


@pytest.mark.skipif(not (REAL_SHARED / "benchmark/Set14/HR/bridge.png").is_file(), reason="shared Set14 not present")
def test_set14_bridge_warning_is_filterable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", d.GrayscaleImageWarning)
        assert d.load_image(REAL_SHARED / "benchmark/Set14/HR/bridge.png").shape[2] == 3


# ----------------------------------------------------------------------------- verify


@needs_shared_set5
def test_verify_detects_modified_and_cached_stamp(isolated, tmp_path):
    real_manifest = REAL_SHARED / "MANIFEST.tsv"
    if not real_manifest.is_file():
        pytest.skip("shared MANIFEST.tsv not present")
    dest = isolated["env"] / "benchmark/Set5/HR"
    shutil.copytree(SHARED_SET5, dest)
    shutil.copy(real_manifest, isolated["env"] / "MANIFEST.tsv")
    first = d.verify("Set5")
    assert first == {"name": "Set5", "files": 5, "checked": "sha256", "cached": False}
    assert d.verify("Set5")["cached"] is True
    # same pixels, different bytes (re-encoded): accepted through the pixel hash
    a = np.array(Image.open(dest / "bird.png"))
    Image.fromarray(a).save(dest / "bird.png", compress_level=1)
    assert d.verify("Set5")["cached"] is False
    # one pixel changed: rejected, the message names the file
    a[0, 0, 0] ^= 1
    Image.fromarray(a).save(dest / "bird.png")
    with pytest.raises(d.DataError, match=r"bird.png does not match .*MANIFEST.tsv.*replace it"):
        d.verify("Set5")
    with pytest.raises(d.DataError, match="bird.png does not match"):
        d.verify("Set5", use_stamp=False)


def test_verify_without_manifest_rows_checks_count(isolated):
    _fake_set5(isolated["env"])
    (isolated["env"] / "MANIFEST.tsv").write_text("dataset\trelative_path\tsha256\tpixel_sha256\n")
    assert d.verify("Set5")["checked"] == "count"


# ----------------------------------------------------------------------------- LR cache


def test_lr_cache_written_once_and_reused(isolated, monkeypatch):
    _fake_set5(isolated["env"], size=(25, 22))
    calls = []

    def counting_box(hr, scale):
        if hr.shape == (37, 41, 3):  # the fingerprint probe (also at x2.5, x1.27): any fixed answer
            return hr[: int(37 // scale), : int(41 // scale)]
        calls.append(hr.shape)
        return _box_down(hr, scale)

    monkeypatch.setattr(ds, "_bicubic_lr", lambda: counting_box)
    pairs = d.lr_pairs("Set5", 3)
    assert len(calls) == 5 and [s for s, _, _ in pairs][0] == "baby"
    stem, lr, hr = pairs[0]
    assert hr.shape == (24, 21, 3) and lr.shape == (8, 7, 3)  # modcropped to x3
    cached = isolated["cache"] / "lr/Set5/bicubic-matlab/x3/baby.png"
    assert cached.is_file() and np.array_equal(d.load_image(cached), lr)
    d.lr_pairs("Set5", 3)  # in-memory cache
    d.IMAGE_CACHE.clear()
    again = d.lr_pairs("Set5", 3)  # disk cache
    assert len(calls) == 5
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(pairs, again))
    assert d.prepare_lr_cache("Set5", 3, progress=False) == 0
    assert d.prepare_lr_cache("Set5", 2, progress=False) == 5 and len(calls) == 10
    assert d.prepare_lr_cache("Set5", 2, progress=False) == 0
    assert sorted(p.name for p in cached.parent.iterdir()) == sorted(
        ["COMPLETE.json"] + [f"{n}.png" for n in ("baby", "bird", "butterfly", "head", "woman")])
    # a changed srlib/degrade.py (other fingerprint) empties the LR cache: LR is recomputed
    (isolated["cache"] / "lr/DEGRADE.sha256").write_text("0" * 64)
    monkeypatch.setattr(ds, "_LR_CACHE_CHECKED", set())
    d.IMAGE_CACHE.clear()
    d.lr_pairs("Set5", 3)
    assert len(calls) == 15 and not (isolated["cache"] / "lr/Set5/bicubic-matlab/x2").exists()


@needs_shared_set5
def test_lr_pairs_equal_bicubic_lr_of_modcropped_hr(isolated):
    from srlib import degrade

    shutil.copytree(SHARED_SET5, isolated["env"] / "benchmark/Set5/HR")
    for stem, lr, hr in d.lr_pairs("Set5", 3)[3:4]:  # head, 280x280 -> 279x279 modcrop
        assert hr.shape == (279, 279, 3)
        assert np.array_equal(lr, degrade.bicubic_lr(hr, 3))


def test_bad_scale_rejected():
    with pytest.raises(ValueError, match="positive integer .* got 0.5"):
        d.hr_images("Set5", scale=0.5)
    with pytest.raises(ValueError, match="got '2'"):
        d.lr_pairs("Set5", "2")
    hr = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="PatchSampler: scale 2.5 is not an integer"):
        d.PatchSampler([hr], 2.5, patch=4, lr_fn=lambda x: x)


# ----------------------------------------------------------------------------- PatchSampler


def _synthetic_pairs(scale, sizes=((60, 48), (51, 75)), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n, (h, w) in enumerate(sizes):
        hr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out.append((f"im{n}", _box_down(hr, scale), hr))
    return out


def test_sampler_shapes_range_and_determinism():
    pairs = _synthetic_pairs(2)
    s = d.PatchSampler(pairs, 2, patch=12, batch=5, seed=7)
    b = s.batch(3)
    assert b["lr"].shape == (5, 3, 12, 12) and b["hr"].shape == (5, 3, 24, 24)
    assert b["lr"].dtype == torch.float32 and 0 <= b["lr"].min() and b["hr"].max() <= 1
    assert b["lr"].is_contiguous()
    again = d.PatchSampler(pairs, 2, patch=12, batch=5, seed=7).batch(3)  # fresh object: no hidden state
    assert torch.equal(b["lr"], again["lr"]) and torch.equal(b["hr"], again["hr"])
    s.batch(0), s.batch(99)  # order of calls does not matter
    assert torch.equal(s.batch(3)["hr"], b["hr"])
    assert not torch.equal(s.batch(4)["hr"], b["hr"])
    assert not torch.equal(d.PatchSampler(pairs, 2, patch=12, batch=5, seed=8).batch(3)["hr"], b["hr"])


def test_sampler_lr_hr_aligned_under_all_8_transforms():
    scale = 3
    pairs = _synthetic_pairs(scale, sizes=((62, 50),))  # 62 not divisible by 3: modcropped to 60
    s = d.PatchSampler(pairs, scale, patch=8, batch=16, seed=1)
    seen = set()
    for i in range(6):
        b = s.batch(i)
        seen |= {t for _, _, _, t in s.plan(i)}
        hr = (b["hr"] * 255).round().byte().permute(0, 2, 3, 1).numpy()
        lr = (b["lr"] * 255).round().byte().permute(0, 2, 3, 1).numpy()
        for k in range(len(hr)):  # box downsampling commutes with the dihedral transforms
            assert np.array_equal(_box_down(hr[k], scale), lr[k])
    assert seen == set(range(8))
    plain = d.PatchSampler(pairs, scale, patch=8, batch=4, seed=1, augment=False)
    assert {t for _, _, _, t in plain.plan(0)} == {0}
    _, top, left, _ = plain.plan(0)[0]
    hr0 = (plain.batch(0)["hr"][0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(hr0, pairs[0][2][top * 3: top * 3 + 24, left * 3: left * 3 + 24])


def test_sampler_crop_matches_bicubic_lr_away_from_borders():
    from srlib import degrade

    scale, p, margin = 2, 24, 6
    hr = np.random.default_rng(5).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    hr = np.asarray(Image.fromarray(hr).resize((30, 30)).resize((120, 120), Image.BICUBIC))  # smooth-ish
    s = d.PatchSampler([("x", degrade.bicubic_lr(hr, scale), hr)], scale, patch=p, batch=8, seed=3, augment=False)
    b = s.batch(0)
    for k, (_, top, left, _) in enumerate(s.plan(0)):
        region = hr[top * scale: (top + p) * scale, left * scale: (left + p) * scale]
        local = degrade.bicubic_lr(region, scale)
        got = (b["lr"][k] * 255).round().byte().permute(1, 2, 0).numpy()
        assert np.array_equal(got[margin:-margin, margin:-margin], local[margin:-margin, margin:-margin])


def test_sampler_image_smaller_than_patch():
    pairs = _synthetic_pairs(2, sizes=((100, 100), (51, 75)))  # im1 modcropped to 74x50
    with pytest.raises(d.DataError, match=r"image im1 is 74x50 .*HR patch is 60x60.*smaller patch \(patch <= 25\)"):
        d.PatchSampler(pairs, 2, patch=30)
    assert len(d.PatchSampler(pairs, 2, patch=25)) == 2


def test_sampler_same_size_pairs_and_lr_fn():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    lr = 255 - hr
    b = d.PatchSampler([("r", lr, hr)], 4, patch=16, batch=3, same_size=True).batch(0)
    assert b["lr"].shape == b["hr"].shape == (3, 3, 16, 16)
    assert torch.allclose(b["lr"] + b["hr"], torch.ones(1))
    s = d.PatchSampler([("h", hr)], 2, patch=8, batch=4, lr_fn=lambda x: _box_down(x, 2))
    b = s.batch(1)
    hr_u8 = (b["hr"] * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert all(np.array_equal(_box_down(h, 2), (l * 255).round().byte().permute(1, 2, 0).numpy())
               for h, l in zip(hr_u8, b["lr"]))
    with pytest.raises(d.DataError, match="no LR image"):
        d.PatchSampler([("h", hr)], 2, patch=8)


def test_sampler_rejects_mismatched_lr():
    hr = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(d.DataError, match="does not match HR"):
        d.PatchSampler([("m", np.zeros((10, 10, 3), np.uint8), hr)], 2, patch=8)


def test_labelled_images_and_verify_with_labels_file(isolated, monkeypatch):
    small = dataclasses.replace(d.spec("imagewoof320"), count=30)  # 20 train + 10 val keep the test fast
    monkeypatch.setitem(d.DATASETS._items, "imagewoof320", small)
    base = isolated["env"] / "imagewoof320"
    lines = ["relative_path\tsplit\tclass_id\tsha256"]
    rng = np.random.default_rng(0)
    for i in range(30):
        split, wnid = ("train" if i < 20 else "val"), f"n0{i % 10}"
        p = base / split / wnid / f"im{i}.JPEG"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes(rng.integers(0, 256, 8, dtype=np.uint8)))  # contents only hashed here
        lines.append(f"{split}/{wnid}/{p.name}\t{split}\t{i % 10}\t{hashlib.sha256(p.read_bytes()).hexdigest()}")
    (base / "LABELS.tsv").write_text("\n".join(lines) + "\n")
    val = d.labelled_images("imagewoof320", "val")
    assert len(val) == 10 and val[0] == (base / "val/n00/im20.JPEG", 0)
    assert d.verify("imagewoof320")["checked"] == "sha256"
    (base / "val/n00/im20.JPEG").write_bytes(b"changed")
    with pytest.raises(d.DataError, match="im20.JPEG does not match .*LABELS.tsv"):
        d.verify("imagewoof320")
    with pytest.raises(d.DataError, match="no rows for split 'test'"):
        d.labelled_images("imagewoof320", "test")


def test_pairs_dataset_returns_real_pairs(isolated, monkeypatch):
    monkeypatch.setitem(d.DATASETS._items, "realsr", dataclasses.replace(d.spec("RealSR"), count=2))
    base = isolated["env"] / "realsr/NTIRE2019_RealSR_val"
    rng = np.random.default_rng(4)
    for n in ("cam1_01", "cam2_09"):
        for sub in ("HR", "LR"):
            (base / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (30, 34, 3), dtype=np.uint8)).save(base / sub / f"{n}.webp", lossless=True)
    pairs = d.lr_pairs("RealSR", 4)
    assert [s for s, _, _ in pairs] == ["cam1_01", "cam2_09"]
    assert all(lr.shape == hr.shape == (30, 34, 3) and not np.array_equal(lr, hr) for _, lr, hr in pairs)
    assert np.array_equal(pairs[0][1], d.load_image(base / "LR/cam1_01.webp"))
    b = d.PatchSampler(pairs, 4, patch=16, batch=2, same_size=True).batch(0)
    assert b["lr"].shape == b["hr"].shape == (2, 3, 16, 16)
    (base / "LR/cam2_09.webp").unlink()
    d.IMAGE_CACHE.clear()
    with pytest.raises(d.DataError, match="LR file .*cam2_09.webp is missing"):
        d.lr_pairs("RealSR", 4)
