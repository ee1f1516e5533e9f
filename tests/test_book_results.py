"""The book build with default parameters writes the chapters' claims and tables where the book reads
them (a smoke build: into the build folder, never results/), and the intro shows this build's claims."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from srlib import book, claims

ROOT = Path(__file__).resolve().parents[1]


def test_book_results_dir_rule(tmp_path):
    assert book.book_results_dir(ROOT, "smoke", tmp_path) == tmp_path / "results"
    assert book.book_results_dir(ROOT, "cpu", tmp_path) == ROOT / "results"
    assert book.book_results_dir(ROOT, "paper", tmp_path) == ROOT / "results"


@pytest.mark.browser
def test_smoke_book_build_writes_claims_and_tables_of_this_build(built_book):
    build_dir = Path(built_book).parent
    results = build_dir / "results"
    if not results.is_dir():
        pytest.skip("SRLIB_BOOK_HTML points at an existing build: its results went to results/")
    for key in ("evaluation", "pspl"):
        assert (results / "claims" / f"{key}.csv").is_file(), f"the build wrote no claims for {key}"
    for table in ("evaluation/bicubic", "pspl/fig4", "pspl/table1"):
        assert (results / f"{table}.csv").is_file(), f"the build wrote no {table}.csv"
    rows = claims.summary(results / "claims")
    assert set(rows["chapter"]) >= {"evaluation", "pspl"}
    assert {"fig4", "table1", "bicubic"} <= set(rows["part"])
    # the intro gathered exactly these rows: every claim of this build appears on the front page
    page = html.unescape(re.sub(r"\s+", " ", (Path(built_book) / "book" / "intro.html").read_text(encoding="utf-8")))
    for claim in rows["claim"]:
        assert claim[:40] in page, f"the intro lacks this build's claim {claim!r}"
