"""A reader's papermill run with other parameters never rewrites the book's results.

Runs book/pspl/convergence.ipynb at the smoke profile with SSIM as the metric and another threshold
(outside the book build, as a reader would from the README) and checks that nothing under results/
changed byte for byte (the run store aside: new runs there are content-addressed and harmless, and
smoke runs live under data/), that the exploration's claims and Fig. 4 table were written where the
notebook says, and that its text speaks of SSIM without "dB".
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def results_fingerprint() -> dict[str, str]:
    out = {}
    for p in sorted((ROOT / "results").rglob("*")):
        if p.is_file() and "runs" not in p.relative_to(ROOT / "results").parts[:1]:
            out[str(p.relative_to(ROOT))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _outputs_text(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    parts = []
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            if "text" in o:
                parts.append("".join(o["text"]))
            for key in ("text/plain", "text/html"):
                if key in o.get("data", {}):
                    parts.append("".join(o["data"][key]))
    return "\n".join(parts)


@pytest.mark.slow
def test_exploration_with_other_parameters_leaves_results_untouched(tmp_path):
    before = results_fingerprint()
    out_nb = tmp_path / "out.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "SRLIB_BOOK_RESULTS"}
    env.update(SRLIB_PROFILE="smoke", MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "book/pspl/convergence.ipynb"), str(out_nb),
                    "-p", "profile", "smoke", "-p", "metric", "ssim", "-p", "threshold_fraction", "0.5",
                    "--cwd", str(tmp_path), "-k", "python3", "--log-level", "WARNING"],
                   check=True, env=env, cwd=tmp_path, capture_output=True)
    assert results_fingerprint() == before, "a papermill run with other parameters changed files under results/"
    explore = tmp_path / "srlib-exploration"
    claims = explore / "claims" / "pspl.csv"
    assert claims.is_file() and (explore / "pspl" / "fig4.csv").is_file()
    text = _outputs_text(out_nb)
    assert str(explore) in text, "the notebook does not say where its claims and tables went"
    from srlib import claims as cl

    rows = cl.read(claims)
    assert set(rows["part"]) == {"fig4"} and len(rows) >= 2
    # names and units follow the metric: SSIM values are never called dB
    assert "SSIM" in text
    for line in text.splitlines():
        if "SSIM" in line or "iterations to" in line:
            assert " dB" not in line, line
