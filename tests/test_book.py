"""srlib.book: the toc, the papermill runner (failures name notebook and cell), vendoring, the
committed notebooks' shape (parameters cell first, no outputs)."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from srlib import book

REPO = book.REPO_ROOT


def _notebook(path: Path, *code_cells: str, parameters: str = "profile = 'cpu'") -> Path:
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": parameters,
              "outputs": [], "execution_count": None, "id": "params"}]
    for i, src in enumerate(code_cells):
        cells.append({"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
                      "execution_count": None, "id": f"c{i}"})
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def _tiny_book(root: Path, toc_files: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text("title: tiny\nexecute:\n  execute_notebooks: 'off'\n")
    chapters = "".join(f"  - file: {f}\n" for f in toc_files[1:])
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: {toc_files[0]}\nchapters:\n{chapters}")
    return root


# ------------------------------------------------------------------------------------ toc


def test_toc_lists_sources_in_order_and_names_a_missing_file(tmp_path):
    _tiny_book(tmp_path, ["book/intro", "book/a/one", "book/b/two"])
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    _notebook(tmp_path / "book" / "a" / "one.ipynb", "1")
    with pytest.raises(book.BookError, match=r"book/b/two.*neither.*\.ipynb nor .*\.md"):
        book.toc_documents(tmp_path)
    _notebook(tmp_path / "book" / "b" / "two.ipynb", "2")
    assert book.toc_documents(tmp_path) == [Path("book/intro.md"), Path("book/a/one.ipynb"), Path("book/b/two.ipynb")]
    # a plain markdown page is not a notebook; a MyST notebook (kernelspec front matter) is
    assert book.toc_notebooks(tmp_path) == [Path("book/a/one.ipynb"), Path("book/b/two.ipynb")]
    (tmp_path / "book" / "intro.md").write_text("---\nkernelspec:\n  name: python3\n---\n# Intro\n")
    assert book.toc_notebooks(tmp_path)[0] == Path("book/intro.md")


# ------------------------------------------------------------------------------- runner


@pytest.mark.slow
def test_failing_notebook_fails_naming_notebook_and_cell_and_keeps_the_others(tmp_path):
    root = _tiny_book(tmp_path / "repo", ["book/good", "book/bad"])
    _notebook(root / "book" / "good.ipynb",
              "import os\nprint('profile', profile, 'env', os.environ['SRLIB_PROFILE'])")
    _notebook(root / "book" / "bad.ipynb", "x = 1", "raise ValueError('the cell that breaks')", "print('never')")
    build = tmp_path / "build"
    with pytest.raises(book.BookError) as err:
        book.run_book(root, profile="smoke", build_dir=build, log=lambda *_: None)
    msg = str(err.value)
    assert "book/bad.ipynb" in msg
    # cell 0 = parameters, cell 1 = papermill's injected parameters, then x = 1, then the failing cell
    assert "cell 3" in msg and "ValueError: the cell that breaks" in msg
    assert "raise ValueError" in msg, "the failing cell's source should be quoted"
    assert "book/good.ipynb" not in msg.split("Executed copies kept")[0], "only the failing notebook is blamed"

    good = json.loads((build / "executed" / "book" / "good.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in good["cells"] for o in c.get("outputs", []))
    assert "profile smoke env smoke" in printed, f"parameters/env not passed to the kernel: {printed!r}"
    assert not (build / "executed" / "book" / "bad.ipynb").exists(), "a failed notebook must not look executed"
    failed = json.loads((build / "executed" / "book" / "bad.failed.ipynb").read_text())
    assert any(o.get("ename") == "ValueError" for c in failed["cells"] for o in c.get("outputs", []))
    assert not (build / "html").exists(), "the HTML must not be built after a failure"


def test_run_rejects_unknown_profile_and_unmatched_only(tmp_path):
    root = _tiny_book(tmp_path, ["book/one"])
    _notebook(root / "book" / "one.ipynb", "1")
    with pytest.raises(book.BookError, match="unknown profile 'gpu'"):
        book.run_notebooks(root, profile="gpu", build_dir=tmp_path / "b")
    with pytest.raises(book.BookError, match=r"--only 'nothing' matches no notebook.*book/one.ipynb"):
        book.run_notebooks(root, profile="smoke", only="nothing", build_dir=tmp_path / "b")


def test_cli_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as ex:
        book.main(["--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    for sub in ("run", "vendor", "build"):
        assert sub in out
    with pytest.raises(SystemExit):
        book.main(["run", "--help"])
    assert "--profile" in capsys.readouterr().out
    (name, _help, add_arguments, run), = book.cli_commands()
    assert name == "book" and run is book._run_cli


# ------------------------------------------------------------------------------- vendor


def _fake_package(tmp_path: Path) -> tuple[Path, dict]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"package/dist/embed.js": b"console.log(1)", "package/dist/embed.js.map": b"{}",
                           "package/dist/font.woff2": b"font", "package/src/big.ts": b"src"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tgz = tmp_path / "pkg-1.0.0.tgz"
    tgz.write_bytes(buf.getvalue())
    pkg = {"name": "pkg", "version": "1.0.0", "integrity": book.npm_integrity(buf.getvalue()), "dest": "pkg",
           "keep": ["dist/*"], "entry": "dist/embed.js"}
    return tgz, pkg


def test_unpack_verifies_integrity_and_keeps_only_needed_files(tmp_path):
    tgz, pkg = _fake_package(tmp_path)
    vendor_dir = tmp_path / "_vendor"
    dest = book.unpack_package(tgz, pkg, vendor_dir)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == [book.VENDOR_STAMP, "dist/embed.js", "dist/font.woff2"]  # no .map, no src/
    assert book.vendor_is_current(pkg, vendor_dir)
    assert not book.vendor_is_current({**pkg, "version": "1.0.1"}, vendor_dir)

    bad = {**pkg, "integrity": "sha512-" + "A" * 86 + "=="}
    with pytest.raises(book.BookError, match=r"pkg-1\.0\.0\.tgz: integrity mismatch for pkg@1\.0\.0"):
        book.unpack_package(tgz, bad, tmp_path / "other")
    assert not (tmp_path / "other" / "pkg").exists()


def test_vendor_spec_pins_versions_with_sha512():
    spec = book.load_vendor_spec(REPO)
    names = {p["name"]: p for p in spec["packages"]}
    assert {"@jupyter-widgets/html-manager", "requirejs"} <= set(names)
    for pkg in spec["packages"]:
        assert pkg["integrity"].startswith("sha512-") and len(pkg["integrity"]) == 95, pkg["name"]
        assert not any(k.endswith(".map") for k in pkg["keep"])


def test_config_points_widgets_and_mathjax_at_local_copies():
    import yaml

    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    sphinx = cfg["sphinx"]["config"]
    assert cfg["execute"]["execute_notebooks"] == "off", "the Sphinx build must not execute notebooks again"
    assert sphinx["html_extra_path"] == ["book/_vendor"]
    urls = [*sphinx["nb_ipywidgets_js"], sphinx["mathjax_path"]]
    assert not any("//" in u for u in urls), urls
    spec = {p["dest"]: p for p in book.load_vendor_spec(REPO)["packages"]}
    for url in urls:
        dest, rest = url.removeprefix("../").split("/", 1)
        assert spec[dest]["entry"] == rest, f"{url} is not the vendored entry of {dest}"


# ---------------------------------------------------------------------- committed notebooks


def _book_notebooks() -> list[Path]:
    found = sorted((REPO / "book").rglob("*.ipynb"))
    found += [p for p in sorted((REPO / "book").rglob("*.md")) if book.is_markdown_notebook(p)]
    return [p for p in found if "_vendor" not in p.parts and ".ipynb_checkpoints" not in p.parts]


def test_every_toc_notebook_exists():
    assert book.toc_notebooks(REPO), "_toc.yml lists no notebook"
    on_disk = {p.relative_to(REPO) for p in _book_notebooks()}
    for nb in book.toc_notebooks(REPO):
        assert nb in on_disk


@pytest.mark.parametrize("path", _book_notebooks(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_notebook_has_parameters_cell_first_and_no_outputs(path):
    nb = book.read_notebook(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path}: no code cell"
    assert "parameters" in code[0].metadata.get("tags", []), f"{path}: the first code cell must be tagged 'parameters'"
    assert "profile" in code[0].source and "profiles.current()" in code[0].source, \
        f"{path}: the parameters cell must set profile from srlib.profiles.current()"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not with_outputs, f"{path}: cells {with_outputs} have committed outputs; clear them before committing"
    assert "widgets" not in nb.metadata, f"{path}: committed widget state; clear outputs and widget state"
