"""srlib.data.fetch against a local HTTP server on 127.0.0.1 (loopback only)."""
import contextlib
import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srlib import data as d
from srlib.data import datasets as ds  # REPO_ROOT and SHARED_DATA are read there
from srlib.__main__ import main as srlib_main

NAMES = ("baby", "bird", "butterfly", "head", "woman")


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 at an ephemeral port, in a thread."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _png_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Archives of a fake Set5 under tmp/site, roots isolated under tmp."""
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "set5.zip", "w") as z:
        for i, n in enumerate(NAMES):
            z.writestr(f"Set5/{n}.png", _png_bytes(i))
    with zipfile.ZipFile(site / "short.zip", "w") as z:
        for i, n in enumerate(NAMES[:3]):
            z.writestr(f"Set5/{n}.png", _png_bytes(i))
    with tarfile.open(site / "set5.tar.gz", "w:gz") as t:
        for i, n in enumerate(NAMES):
            data = _png_bytes(i)
            info = tarfile.TarInfo(f"pack/HR/{n}.png")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    for p in ("root", "repo", "shared", "cache"):
        (tmp_path / p).mkdir()
    monkeypatch.setenv("SRLIB_DATA", str(tmp_path / "root"))
    monkeypatch.setenv("SRLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(ds, "SHARED_DATA", tmp_path / "shared")
    d.IMAGE_CACHE.clear()
    with serve(site) as url:
        yield {"dir": site, "url": url, "root": tmp_path / "root"}
    d.IMAGE_CACHE.clear()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_fetch_zip_with_checksum_then_dataset_is_usable(site):
    target = d.fetch("Set5", url=f"{site['url']}/set5.zip", sha256=_sha(site["dir"] / "set5.zip"), progress=False)
    assert target == site["root"] / "benchmark/Set5/HR"
    assert [p.stem for p in d.list_images("Set5")] == list(NAMES)
    assert np.array_equal(d.load_image(target / "bird.png"),
                          np.asarray(Image.open(io.BytesIO(_png_bytes(1)))))
    assert sorted(p.name for p in site["root"].iterdir()) == ["benchmark"]  # no temp folders left
    with pytest.raises(d.DataError, match="already exists"):
        d.fetch("Set5", url=f"{site['url']}/set5.zip", progress=False)


def test_fetch_tar_without_checksum_into_explicit_root(site, tmp_path):
    dest = tmp_path / "elsewhere"
    target = d.fetch("Set5", dest_root=dest, url=f"{site['url']}/set5.tar.gz", progress=False)
    assert target == dest / "benchmark/Set5/HR" and len(list(target.glob("*.png"))) == 5


def test_fetch_wrong_sha256_fails_and_leaves_nothing(site):
    with pytest.raises(d.DataError, match=r"sha256 [0-9a-f]{64}, expected 0{64}.*nothing was kept"):
        d.fetch("Set5", url=f"{site['url']}/set5.zip", sha256="0" * 64, progress=False)
    assert list(site["root"].iterdir()) == []
    with pytest.raises(d.DataError, match="not found"):
        d.dataset_dir("Set5")


def test_fetch_wrong_count_and_missing_url_fail_cleanly(site):
    with pytest.raises(d.DataError, match="holds 3 files matching \\*.png, expected 5"):
        d.fetch("Set5", url=f"{site['url']}/short.zip", progress=False)
    assert list(site["root"].iterdir()) == []
    with pytest.raises(d.DataError, match="no-such.zip failed .*404.*nothing was kept"):
        d.fetch("Set5", url=f"{site['url']}/no-such.zip", progress=False)
    assert list(site["root"].iterdir()) == []
    with pytest.raises(d.DataError, match="Set14 has no official download.*--url"):
        d.fetch("Set14", progress=False)


def test_fetch_cli(site, capsys):
    rc = srlib_main(["data", "fetch", "Set5", "--url", f"{site['url']}/set5.zip",
                     "--sha256", _sha(site["dir"] / "set5.zip")])
    assert rc == 0 and "fetched Set5" in capsys.readouterr().out
    assert srlib_main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert str(site["root"] / "benchmark/Set5/HR") in out and "missing" in out
    assert srlib_main(["data", "verify", "Set5"]) == 0
    assert "ok" in capsys.readouterr().out
