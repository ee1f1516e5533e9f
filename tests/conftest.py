"""Fixtures for every test: a fixed RNG state per test; and, for the browser tests (tests/test_browser*.py),
one smoke-profile book, one server and one Chromium per session."""
from __future__ import annotations

import functools
import http.server
import json
import os
import random
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from chromium import CDP, CDP_DOMAINS, CHROMIUM_FLAGS, REPO, WIDTH, QuietHandler, chromium_path
from srlib import book


@pytest.fixture(autouse=True)
def fixed_rng_state():
    """Every test starts from the same RNG state (torch seeds itself from the OS in each process, so an
    unseeded test would see different random weights on every run)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Dataset roots and caches under tmp_path (tests of srlib.data and of scales): $SRLIB_DATA=env,
    <repo>/data=repo/data, shared=shared; REPO_ROOT and SHARED_DATA patched in srlib.data.datasets, where they are read."""
    from srlib import data as d
    from srlib.data import datasets as ds

    env, repo, shared, cache = (tmp_path / n for n in ("env", "repo", "shared", "cache"))
    for p in (env, repo / "data", shared, cache):
        p.mkdir(parents=True)
    monkeypatch.setenv("SRLIB_DATA", str(env))
    monkeypatch.setenv("SRLIB_CACHE", str(cache))
    monkeypatch.setattr(ds, "REPO_ROOT", repo)
    monkeypatch.setattr(ds, "SHARED_DATA", shared)
    d.IMAGE_CACHE.clear()
    yield {"env": env, "repo_data": repo / "data", "shared": shared, "cache": cache}
    d.IMAGE_CACHE.clear()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The HTML book built at the smoke profile (same code as `make book`) in a temporary directory.

    ``SRLIB_BOOK_HTML=_build/html`` checks an existing build instead (e.g. the cpu-profile book).
    """
    existing = os.environ.get("SRLIB_BOOK_HTML")
    if existing:
        html = Path(existing).resolve()
        assert (html / "index.html").is_file(), f"SRLIB_BOOK_HTML={existing}: no index.html there; run `make book`"
        return html
    book.vendor(REPO, log=lambda *_: None)
    build_dir = tmp_path_factory.mktemp("book-build")
    html = book.run_book(REPO, profile="smoke", build_dir=build_dir, log=lambda *_: None)
    return html


@pytest.fixture(scope="session")
def server(built_book):
    handler = functools.partial(QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser(server, tmp_path_factory):
    profile_dir = tmp_path_factory.mktemp("chromium-profile")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", f"--remote-debugging-port={port}",
         f"--window-size={WIDTH},900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        targets = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                time.sleep(0.3)
        assert targets, "Chromium did not open its DevTools port within 30 s"
        cdp = CDP(targets[0]["webSocketDebuggerUrl"])
        for domain in CDP_DOMAINS:
            cdp.send(f"{domain}.enable")
        cdp.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
