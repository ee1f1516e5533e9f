"""The multiblock report's library core (issue 11): RealSR split and bad input, the blocks and ``inherit``,
N_i^+ against N_i, receptive fields, the LR_k cache, and the phase runner killed with SIGKILL and resumed.

Run as a script (``python tests/test_multiblock.py WORKDIR [--kill-at EVENT:STAGE:N]``) this file is the
child of the kill test: it runs a tiny phased schedule on synthetic pairs and SIGKILLs itself at the
given event (``batch:<stage>:<iteration>``, ``image:<stage>:<count>``, ``stage_done:<stage>:0``, ...),
printing every event as a JSON line first.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the machine's cores are shared, and the kill test's children use one too."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- shared tiny setup
def tiny_pairs(seed: int = 0) -> dict:
    """4 train and 2 test synthetic same-size pairs (HR noise, LR = HR plus noise), deterministic."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", 4), ("test", 2)):
        items = []
        for i in range(n):
            hr = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
            lr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
            items.append((f"cam{1 + i % 2}_{split}{i:02d}", lr, hr))
        out[split] = items
    return out


def tiny_schedule(**kw):
    from srlib import phases

    args = dict(n_blocks=2, block_args={"n_rcab": 1, "n_feats": 4, "reduction": 2},
                iterations={"block": 6, "plus": [2, 2], "combined": [2, 2]}, patch=8, batch=2, eval_crop=None,
                checkpoint_every=2, threads=1, device="cpu")
    args.update(kw)
    return phases.report_schedule(**args)


def child_main(argv) -> None:
    import torch

    torch.set_num_threads(1)
    from srlib import phases

    workdir = Path(argv[0])
    kill = None
    if "--kill-at" in argv:
        event, stage, n = argv[argv.index("--kill-at") + 1].split(":")
        kill = (event, stage, int(n))

    def on_event(event, **info):
        print(json.dumps({"event": event, **{k: v for k, v in info.items() if k != "index"}}), flush=True)
        if kill and event == kill[0] and info.get("stage") == kill[1] and \
                info.get("iteration", info.get("count", 0)) == kill[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    phases.PhaseRunner(tiny_schedule(), workdir, pairs=tiny_pairs(), on_event=on_event).run()


# ----------------------------------------------------------------------------- RealSR split and bad input
def test_split_rule_keeps_both_cameras_on_each_side():
    from srlib.data import realsr_split

    stems = ["cam1_01", "cam1_010", "cam1_02", "cam1_03", "cam1_04", "cam1_05", "cam1_06", "cam1_07", "cam1_09",
             "cam2_01", "cam2_010", "cam2_02", "cam2_04", "cam2_07", "cam2_08", "cam2_09"]  # the 16 NTIRE pairs
    split = realsr_split(stems)
    assert split["test"] == ["cam1_03", "cam1_07", "cam2_02", "cam2_09"]
    assert len(split["train"]) == 12 and set(split["train"]) | set(split["test"]) == set(stems)
    assert not set(split["train"]) & set(split["test"])
    for side in split.values():
        assert {s.split("_")[0] for s in side} == {"cam1", "cam2"}
    assert realsr_split(list(reversed(stems))) == split  # the order of the listing does not matter
    three = realsr_split(stems, test_per_camera=3)["test"]
    assert len(three) == 6 and sum(s.startswith("cam2") for s in three) == 3
    with pytest.raises(ValueError, match="camera cam2 has 7 image"):
        realsr_split(stems, test_per_camera=7)
    with pytest.raises(ValueError, match="not <camera>_<number>"):
        realsr_split(["cam1_01", "picture"])


def test_split_of_the_shared_realsr_files():
    from srlib import data

    try:
        base = data.dataset_dir("RealSR")
    except data.DataError:
        pytest.skip("RealSR not present")
    stems = sorted(p.stem for p in (base / "HR").glob("*.webp"))
    split = data.realsr_split(stems)
    assert (len(split["train"]), len(split["test"])) == (12, 4)


def _fake_realsr(isolated, monkeypatch, stems, size=(12, 14)):
    from PIL import Image

    from srlib import data as d

    monkeypatch.setitem(d.DATASETS._items, "realsr", dataclasses.replace(d.spec("RealSR"), count=len(stems)))
    base = isolated["env"] / "realsr/NTIRE2019_RealSR_val"
    rng = np.random.default_rng(1)
    for stem in stems:
        for sub in ("HR", "LR"):
            (base / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(base / sub / f"{stem}.webp",
                                                                                   lossless=True)
    return base


def _cached(path) -> bool:
    from srlib.data import IMAGE_CACHE
    from srlib.data.datasets import _file_key

    return IMAGE_CACHE.get(("img",) + _file_key(Path(path))) is not None


def test_realsr_dataset_and_its_bad_input(isolated, monkeypatch):
    from PIL import Image

    from srlib import data as d

    stems = ["cam1_01", "cam1_02", "cam1_03", "cam2_01", "cam2_02", "cam2_03"]
    base = _fake_realsr(isolated, monkeypatch, stems)
    train, test = d.RealSR("train", test_per_camera=1), d.RealSR("test", test_per_camera=1)
    assert test.stems == ["cam1_02", "cam2_02"] and train.stems == ["cam1_01", "cam1_03", "cam2_01", "cam2_03"]
    stem, lr, hr = train[0]
    assert stem == "cam1_01" and lr.shape == hr.shape == (12, 14, 3)
    assert np.array_equal(lr, d.load_image(base / "LR/cam1_01.webp")) and _cached(base / "LR/cam1_01.webp")

    # LR and HR of different sizes: named, and neither image is cached
    d.IMAGE_CACHE.clear()
    Image.fromarray(np.zeros((12, 13, 3), np.uint8)).save(base / "LR/cam2_03.webp", lossless=True)
    with pytest.raises(d.DataError, match=r"LR .*cam2_03\.webp is 13x12 but HR .*cam2_03\.webp is 14x12"):
        d.RealSR("train", test_per_camera=1)
    assert not _cached(base / "LR/cam2_03.webp") and not _cached(base / "HR/cam2_03.webp")
    Image.fromarray(np.zeros((12, 14, 3), np.uint8)).save(base / "LR/cam2_03.webp", lossless=True)

    # an unreadable file: named, and its partner is not cached
    d.IMAGE_CACHE.clear()
    (base / "HR/cam1_03.webp").write_bytes(b"not an image")
    with pytest.raises(d.DataError, match=r"HR/cam1_03\.webp is not a readable image"):
        d.RealSR("all")
    assert not _cached(base / "LR/cam1_03.webp")
    (base / "HR/cam1_03.webp").unlink()

    # a missing partner, either way round
    with pytest.raises(d.DataError, match=r"LR/cam1_03\.webp has no HR partner"):
        d.RealSR("all")
    (base / "LR/cam1_03.webp").unlink()
    Image.fromarray(np.zeros((12, 14, 3), np.uint8)).save(base / "HR/cam1_03.webp", lossless=True)
    with pytest.raises(d.DataError, match=r"HR/cam1_03\.webp has no LR partner"):
        d.RealSR("all")


def test_the_runner_refuses_a_bad_pair_and_caches_nothing(tmp_path):
    from srlib import phases

    pairs = tiny_pairs()
    stem, lr, hr = pairs["test"][1]
    pairs["test"][1] = (stem, lr[:, :-1], hr)
    with pytest.raises(phases.ScheduleError, match=f"pair '{stem}' \\(test\\)"):
        phases.PhaseRunner(tiny_schedule(), tmp_path / "w", pairs=pairs).run()
    assert not (tmp_path / "w" / "scratch").exists() and not (tmp_path / "w" / "stages").exists()


# ----------------------------------------------------------------------------- blocks, inherit, clamp
def test_block_layout_matches_the_authors_code():
    import torch

    from srlib.complexity import conv_depth, count_params
    from srlib.models import build

    block = build("multiblock-block", scale=1)
    assert count_params(block) == 1_256_195 and conv_depth(block) == 35  # docs/AUTHORS_CODE.md "002"
    assert count_params(build("multiblock", scale=1)) == 3 * 1_256_195
    ca = block.body[0].attention
    assert (type(ca.down), ca.down.in_channels, ca.down.out_channels) == (torch.nn.Conv1d, 64, 16)
    assert (type(ca.up), ca.up.in_channels, ca.up.out_channels) == (torch.nn.Conv1d, 16, 64)
    w = block.head.weight.detach().reshape(64, -1)  # orthogonal init, gain 1: 27 orthonormal columns
    assert torch.allclose(w.T @ w, torch.eye(27), atol=1e-5)
    w = block.body[0].body[0].weight.detach().reshape(64, -1)  # 64 x 576: orthonormal rows
    assert torch.allclose(w @ w.T, torch.eye(64), atol=1e-5)
    toy = build("multiblock-toy", scale=1)
    assert conv_depth(toy) == 12 and not any(toy.clamps)
    std = torch.cat([m.weight.detach().flatten() for m in toy.modules() if isinstance(m, torch.nn.Conv2d)]).std()
    assert 0.095 < float(std) < 0.105
    with pytest.raises(ValueError, match="use scale=1"):
        build("multiblock-block", scale=2)


def test_inherit_copies_every_weight():
    import torch

    from srlib.models.multiblock import MultiblockBlock, MultiblockNet, inherit

    torch.manual_seed(1)
    src = MultiblockBlock(n_rcab=2, n_feats=8, reduction=4)
    torch.manual_seed(2)
    dst = MultiblockBlock(n_rcab=2, n_feats=8, reduction=4, clamp=True, init="default")
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    assert inherit(src, dst) is dst
    s, d = src.state_dict(), dst.state_dict()
    # head, 2 x (2 convs + 2 Conv1d), end, to_rgb: a weight and a bias each
    assert s.keys() == d.keys() and len(s) == 2 * (1 + 2 * 2 + 2 * 2 + 2)
    for k in s:
        assert torch.equal(s[k], d[k]), k
        assert not torch.equal(before[k], d[k]), k  # it really changed
        assert s[k].data_ptr() != d[k].data_ptr(), k  # a copy, not shared
    assert dst.clamp and not src.clamp
    # into a chain and back
    net = MultiblockNet(n_blocks=2, n_rcab=2, n_feats=8, reduction=4)
    inherit(src, net.blocks[1])
    assert all(torch.equal(v, net.blocks[1].state_dict()[k]) for k, v in s.items())
    # a different layout: named, nothing copied
    other = MultiblockBlock(n_rcab=3, n_feats=8, reduction=4)
    kept = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match="missing in the source: body.2"):
        inherit(src, other)
    with pytest.raises(ValueError, match=r"shapes differ: body\.0\.attention\.down\.weight \(2, 8, 1\) -> \(2, 6, 1\)"):
        inherit(src, MultiblockBlock(n_rcab=2, n_feats=6, reduction=3))
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in kept.items())


def test_clamped_variant_equals_unclamped_inside_0_1():
    import torch

    from srlib.models.multiblock import MultiblockBlock, MultiblockNet, inherit

    torch.manual_seed(0)
    plain = MultiblockBlock(n_rcab=2, n_feats=8, reduction=4)
    with torch.no_grad():  # a small residual, as after training: outputs of inputs in [0.1, 0.9] stay in [0, 1]
        plain.to_rgb.weight.mul_(1e-3)
        plain.to_rgb.bias.zero_()
    plus = inherit(plain, MultiblockBlock(n_rcab=2, n_feats=8, reduction=4, clamp=True))
    x = 0.1 + 0.8 * torch.rand(2, 3, 12, 12)
    y, y_plus = plain(x), plus(x)
    assert 0 < float(y.detach().min()) and float(y.detach().max()) < 1
    assert torch.equal(y, y_plus)
    y.sum().backward()
    y_plus.sum().backward()
    for (k, a), (_, b) in zip(plain.named_parameters(), plus.named_parameters()):
        assert torch.equal(a.grad, b.grad), k
    # outside [0, 1] the clamp is exactly a clamp, with no gradient through the clamped pixels
    with torch.no_grad():
        plain.to_rgb.weight.mul_(3e3)
        plus.to_rgb.weight.mul_(3e3)
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    y, y_plus = plain(x), plus(x)
    out = (y < 0) | (y > 1)
    assert out.any() and (~out).any()
    assert torch.equal(y_plus, y.clamp(0, 1))
    (g,) = torch.autograd.grad(y_plus[out].sum(), x)
    assert float(g.abs().sum()) == 0
    # the combined N with every block clamped equals the unclamped chain when nothing leaves [0, 1]
    torch.manual_seed(0)
    chain = MultiblockNet(n_blocks=2, clamp=False, n_rcab=1, n_feats=8, reduction=4)
    for b in chain.blocks:
        with torch.no_grad():
            b.to_rgb.weight.mul_(1e-3)
            b.to_rgb.bias.zero_()
    clamped = inherit(chain, MultiblockNet(n_blocks=2, clamp=True, n_rcab=1, n_feats=8, reduction=4))
    x = 0.1 + 0.8 * torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        inner = chain.block_outputs(x)
        assert all(0 < float(o.min()) and float(o.max()) < 1 for o in inner)
        assert torch.equal(inner[-1], chain(x)) and torch.equal(chain(x), clamped(x))


# ----------------------------------------------------------------------------- receptive field
def test_receptive_field_of_known_stacks():
    import torch
    from torch import nn

    from srlib.complexity import multiblock_receptive_fields, receptive_field, support_receptive_field
    from srlib.models import build

    class Stack(nn.Module):
        scale, colors, pre_upsample = 1, 3, False

        def __init__(self, k):
            super().__init__()
            self.body = nn.Sequential(*[m for _ in range(k) for m in (nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())])

        def forward(self, x):
            return self.body(x)

    for k in (1, 4, 9):
        assert support_receptive_field(Stack(k))["rf"] == 2 * k + 1
    # one block N_i with 2 RCABs: head + 2 x 2 + end + to_rgb = 7 convs -> 15, by both methods, at any width
    torch.manual_seed(0)
    small = build("multiblock-block", scale=1, n_rcab=2, n_feats=8, reduction=4)
    r = support_receptive_field(small)
    assert (r["rf"], r["conv_layers"], r["truncated"]) == (15, 7, False)
    assert receptive_field(small)["lr"] == 15
    assert support_receptive_field(build("multiblock-block", scale=1, n_rcab=2, n_feats=1, reduction=1))["rf"] == 15
    # RCAN, 2 groups x 3 RCABs, same size: head + 2 x (3 x 2 + 1) + body + tail = 17 convs -> 35 (mean shift included)
    rcan = build("rcan", scale=1, n_resgroups=2, n_resblocks=3, n_feats=4, reduction=2)
    assert support_receptive_field(rcan)["rf"] == 35
    table = multiblock_receptive_fields(n_rcab=16, n_blocks=3, rcan_groups=2, rcan_blocks=3).set_index("network")
    assert table.loc["N_i", "conv_layers"] == 35 and table.loc["N_i", "rf"] == 71  # 35 convs -> 71 x 71
    assert table.loc["N", "rf"] == 2 * 105 + 1 and table.loc["RCAN", "rf"] == 35 and not table["truncated"].any()
    with pytest.raises(ValueError, match="same-size networks"):
        support_receptive_field(build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4))


# ----------------------------------------------------------------------------- schedules
def test_report_and_code_schedules():
    from srlib import phases

    rep, code = (phases.check_schedule(phases.report_schedule(v)) for v in ("report", "code"))
    names = [s["name"] for s in rep["stages"]]
    assert names == ["N1", "N1+", "LR1", "N2", "N2+", "LR2", "N3", "N3+", "N"]
    train = {s["name"]: s for s in rep["stages"] if s["kind"] == "train"}
    assert all(train[f"N{k}"]["iterations"] + train[f"N{k}+"]["iterations"] == 15000 for k in (1, 2, 3))
    assert train["N1"]["optimizer"]["name"] == "adadelta" and train["N2"]["init"] == ["inherit:0"]
    assert train["N"]["iterations"] == 10000 and train["N"]["init"] == ["inherit"] * 3 and train["N"]["clamp"]
    ctrain = {s["name"]: s for s in code["stages"] if s["kind"] == "train"}
    assert ctrain["N1"]["optimizer"]["name"] == "adam" and ctrain["N2"]["init"] == ["fresh"]
    assert (ctrain["N"]["batch"], ctrain["N"]["patch"]) == (8, 120)
    assert code["lr_cache"] == {"quantize": "truncate", "tiles": "quadrants"}
    assert phases.single_schedule()["stages"][0]["iterations"] == 25000
    toy, deep = phases.check_schedule(phases.toy_schedule()), phases.check_schedule(phases.toy_schedule(multiblock=False))
    assert phases.check_schedule(phases.single_schedule())["stages"][0]["init"] == ["fresh"] * 3
    per_weight = {b: sum(s["iterations"] for s in toy["stages"] if b in s["blocks"]) for b in (0, 1)}
    assert per_weight == {0: 1500, 1: 1500} and deep["stages"][0]["iterations"] == 1500
    assert toy["stages"][1]["prefix"] == [0]
    bad = phases.report_schedule(n_blocks=2)
    bad["stages"][3]["input"] = "LR7"
    with pytest.raises(phases.ScheduleError, match="input 'LR7' is not a source yet"):
        phases.check_schedule(bad)
    assert phases.schedule_hash(rep) != phases.schedule_hash(code)


# ----------------------------------------------------------------------------- LR_k cache
def test_lr_k_regeneration_is_deterministic_and_a_broken_cache_is_never_used(tmp_path):
    import torch

    from srlib import data, phases
    from srlib.degrade import img2tensor

    torch.set_num_threads(1)
    sched = tiny_schedule(n_blocks=2, iterations={"block": 2, "plus": [1, 1], "combined": [1, 1]})
    sched["stages"] = sched["stages"][:3]  # N1, N1+, LR1
    events = []

    def run():
        events.clear()
        r = phases.PhaseRunner(sched, tmp_path / "w", pairs=tiny_pairs(), on_event=lambda e, **k: events.append(e))
        r.run()
        return r

    r = run()
    cdir = r.cache_dir(2)
    files = sorted(p.relative_to(cdir).as_posix() for p in cdir.rglob("*.png"))
    assert len(files) == 6 and "cache_done" in events
    first = {f: (cdir / f).read_bytes() for f in files}
    manifest = (cdir / "COMPLETE.json").read_text()
    # the cache is what N1^+ makes of LR: 8 bits, rounded
    net = r.network([0])
    assert net.clamps == [True]
    assert phases.state_sha256(r.stage_weights("N1+")[0]) == phases.state_sha256(net.blocks[0].state_dict())
    assert phases.state_sha256(r.stage_weights("N1")[0]) != phases.state_sha256(net.blocks[0].state_dict())
    stem, lr, _ = tiny_pairs()["train"][0]
    with torch.no_grad():
        want = phases.quantize8(net(img2tensor(lr)), "round")
    assert np.array_equal(data.load_image(cdir / f"train/{stem}.png"), want)

    assert run() is not None and "cache_hit" in events and "image" not in events
    broken = [
        lambda: (cdir / files[0]).write_bytes((cdir / files[0]).read_bytes()[:20]),  # a torn file
        lambda: (cdir / "COMPLETE.json").unlink(),  # half-written: no manifest
        lambda: (cdir / files[-1]).unlink(),  # a file missing
        lambda: (cdir / "COMPLETE.json").write_text(manifest.replace(json.loads(manifest)["key"], "0" * 64)),  # stale key
    ]
    for damage in broken:
        damage()
        run()
        assert "cache_invalid" in events and events.count("image") == 6
        assert {f: (cdir / f).read_bytes() for f in files} == first  # rebuilt byte for byte
        assert (cdir / "COMPLETE.json").read_text() == manifest
    # a leftover temporary build (a killed generation) is removed, never read
    tmp = cdir.parent / f".{cdir.name}.tmp-99999"
    (tmp / "train").mkdir(parents=True)
    (cdir / "COMPLETE.json").unlink()
    run()
    assert not tmp.exists() and (cdir / "COMPLETE.json").read_text() == manifest
    # quadrants, the authors' variant: the same as the whole image away from the seams (a toy block, no global
    # pooling: receptive field 13), different at them
    from srlib.models.multiblock import ToyBlock

    toy = ToyBlock(n_feats=4)
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        whole, quads = phases.run_tiles(toy, x), phases.run_tiles(toy, x, "quadrants")
    seam = torch.zeros(40, 36, dtype=torch.bool)
    seam[20 - 6: 20 + 6, :] = True
    seam[:, 18 - 6: 18 + 6] = True
    assert torch.equal(whole[..., ~seam], quads[..., ~seam]) and not torch.allclose(whole, quads)
    assert torch.equal(quads[..., :20, :18], toy(x[..., :20, :18]).detach())
    # truncation, the authors' variant, is at most one level below rounding
    x = torch.rand(1, 3, 5, 7)
    rd, tr = phases.quantize8(x, "round").astype(int), phases.quantize8(x, "truncate").astype(int)
    assert ((rd - tr) >= 0).all() and ((rd - tr) <= 1).all() and (rd != tr).any()


def test_get_or_run_files_a_schedule_like_a_run(tmp_path):
    from srlib import phases

    sched = tiny_schedule(iterations={"block": 2, "plus": [1, 1], "combined": [1, 1]})
    sched["stages"] = sched["stages"][:1]
    events = []
    kw = dict(root=tmp_path / "runs", scratch_root=tmp_path / "ck", pairs=tiny_pairs(), progress=False,
              on_event=lambda e, **k: events.append(e))
    first = phases.get_or_run(sched, "multiblock.tiny", **kw)
    d = tmp_path / "runs" / "multiblock.tiny" / phases.schedule_hash(sched)
    assert Path(first["dir"]) == d and first["hash"] == d.name and "stage_done" in events
    assert json.loads((d / "config.json").read_text()) == phases.check_schedule(sched)
    assert (d / "phases" / "stages" / "00-N1" / "done.json").exists()
    assert (tmp_path / "ck" / "multiblock.tiny" / d.name / "checkpoints" / "00-N1.pt").exists()
    events.clear()
    assert phases.get_or_run(sched, "multiblock.tiny", **kw) == first and not events  # read, not rerun
    other = dict(sched, seed=1)
    with pytest.raises(phases.ScheduleError, match="holds another schedule"):
        phases.PhaseRunner(other, d / "phases", pairs=tiny_pairs()).run()


# ----------------------------------------------------------------------------- SIGKILL and resume
def _child(workdir: Path, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(HERE), str(workdir), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _events(p: subprocess.Popen, killed: bool):
    out, _ = p.communicate(timeout=240)
    text = out.decode()
    if killed:
        assert p.returncode == -signal.SIGKILL, text[-3000:]
    else:
        assert p.returncode == 0, text[-3000:]
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_sigkill_in_and_between_phases_resumes_to_the_same_weights(tmp_path):
    import torch

    from srlib import phases

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    ck = killed / "scratch" / "checkpoints"

    # 1. in the middle of phase 1-1 (checkpoints every 2 iterations: the last one is at 4); meanwhile
    # the uninterrupted run, in this process (one thread, as the children)
    first = _child(killed, "--kill-at", "batch:N1:5")
    phases.PhaseRunner(tiny_schedule(), straight, pairs=tiny_pairs()).run()
    _events(first, killed=True)
    assert torch.load(ck / "00-N1.pt", weights_only=False)["iteration"] == 4
    assert not (killed / "stages" / "00-N1" / "done.json").exists()
    # 2. between phases: right after N1^+ is done, before LR_1 is generated
    ev = _events(_child(killed, "--kill-at", "stage_done:N1+:0"), killed=True)
    n1 = [e["iteration"] for e in ev if e["event"] == "batch" and e["stage"] == "N1"]
    assert n1 == [4, 5]  # resumed from the checkpoint, not from the start
    assert (killed / "stages" / "01-N1+" / "done.json").exists() and not (killed / "scratch" / "lr").exists()
    # 3. in the middle of generating LR_1: a half-written cache, never in place
    ev = _events(_child(killed, "--kill-at", "image:LR1:3"), killed=True)
    assert [e["event"] for e in ev[:2]] == ["stage_adopted", "stage_adopted"]
    lr_root = killed / "scratch" / "lr"
    assert not (lr_root / "02-LR1").exists()
    (half,) = [p for p in lr_root.iterdir() if p.name.startswith(".02-LR1.tmp")]
    assert len(list(half.rglob("*.png"))) == 3 and not (half / "COMPLETE.json").exists()
    # 4. in the middle of phase 4, the combined fine-tuning
    ev = _events(_child(killed, "--kill-at", "batch:N:3"), killed=True)
    assert "cache_done" in [e["event"] for e in ev] and not half.exists()
    # 5. to the end
    ev = _events(_child(killed), killed=False)
    assert [e["event"] for e in ev if e["event"] != "batch"][:4] == ["stage_adopted"] * 2 + ["cache_hit", "stage_adopted"]
    assert [e["iteration"] for e in ev if e["event"] == "batch"] == [2, 3]

    fa, fb = (json.loads((d / "final.json").read_text()) for d in (straight, killed))
    assert fa == fb and set(fa["stages"]) == {"N1", "N1+", "LR1", "N2", "N2+", "N"}
    for stage in ("00-N1", "01-N1+", "03-N2", "04-N2+", "05-N"):
        wa, wb = (torch.load(d / "stages" / stage / "weights.pt", weights_only=True) for d in (straight, killed))
        assert wa.keys() == wb.keys() and wa
        for b in wa:
            assert wa[b].keys() == wb[b].keys()
            assert all(torch.equal(wa[b][k], wb[b][k]) for k in wa[b]), (stage, b)
    la, lb = ((d / "stages" / "05-N" / "log.csv").read_text().splitlines() for d in (straight, killed))
    drop = lambda rows: [",".join(c for i, c in enumerate(r.split(",")) if i != 3) for r in rows]  # noqa: E731 (seconds)
    assert drop(la) == drop(lb)
    # LR_1 regenerated in another process after a kill: byte for byte the uninterrupted run's (this process's)
    ca, cb = (d / "scratch" / "lr" / "02-LR1" for d in (straight, killed))
    assert sorted(p.name for p in ca.rglob("*")) == sorted(p.name for p in cb.rglob("*"))
    assert all(p.read_bytes() == (cb / p.relative_to(ca)).read_bytes() for p in ca.rglob("*") if p.is_file())


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    child_main(sys.argv[1:])
