"""srlib.book: the toc, the papermill runner (summary pages last; failures name notebook and cell), the
published copy of an executed notebook, the Sphinx extension, vendoring, the committed notebooks' shape
(parameters cell first, no outputs)."""
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


def _myst_notebook(path: Path, *code_cells: str, parameters: str = "profile = 'cpu'") -> Path:
    """A MyST-markdown notebook (like book/intro.md): front matter with a kernelspec, a parameters cell."""
    cells = "".join(f"\n```{{code-cell}} ipython3\n{src}\n```\n" for src in code_cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
                    f"# Summary\n\n```{{code-cell}} ipython3\n:tags: [parameters]\n\n{parameters}\n```\n{cells}")
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


def test_execution_plan_puts_summary_pages_last_and_runs_them_with_only(tmp_path):
    assert "book/intro.md" in book.SUMMARY_DOCUMENTS
    root = _tiny_book(tmp_path, ["book/intro", "book/a/one", "book/b/two"])
    _myst_notebook(root / "book" / "intro.md", "1")
    _notebook(root / "book" / "a" / "one.ipynb", "1")
    _notebook(root / "book" / "b" / "two.ipynb", "2")
    one, two, intro = Path("book/a/one.ipynb"), Path("book/b/two.ipynb"), Path("book/intro.md")
    assert book.execution_plan(root) == ([one, two], [intro])
    # --only: the matching chapters, then the summaries again (they gather what those chapters wrote)
    assert book.execution_plan(root, only="a/one") == ([one], [intro])
    assert book.execution_plan(root, only="intro") == ([], [intro])
    with pytest.raises(book.BookError, match="--only 'nothing' matches no notebook"):
        book.execution_plan(root, only="nothing")


def test_book_results_dir_keeps_smoke_builds_out_of_results(tmp_path):
    assert book.book_results_dir(REPO, "smoke", tmp_path) == tmp_path / "results"
    for profile in ("cpu", "paper"):
        assert book.book_results_dir(REPO, profile, tmp_path) == REPO / "results"


def test_summary_documents_are_notebooks_of_the_toc():
    notebooks = {nb.as_posix() for nb in book.toc_notebooks(REPO)}
    for doc in book.SUMMARY_DOCUMENTS:
        assert doc in notebooks, f"SUMMARY_DOCUMENTS lists {doc}, which is not a notebook of _toc.yml"


@pytest.mark.slow
def test_summary_page_executes_after_every_other_notebook(tmp_path):
    """The summary (toc root, listed first) would start beside chapter a with 2 workers; it must wait for both."""
    marks = tmp_path / "marks"
    marks.mkdir()
    root = _tiny_book(tmp_path / "repo", ["book/intro", "book/a", "book/b"])
    gather = (f"import pathlib, time\nmarks = sorted(p.name for p in pathlib.Path({str(marks)!r}).iterdir())\n"
              f"assert marks == ['a', 'b'], f'summary started before the chapters finished: {{marks}}'\n"
              f"pathlib.Path({str(marks)!r}, 'summary').write_text(repr(time.time()))")
    _myst_notebook(root / "book" / "intro.md", gather)
    for name, pause in (("a", 1.0), ("b", 3.0)):
        _notebook(root / "book" / f"{name}.ipynb",
                  f"import pathlib, time\ntime.sleep({pause})\npathlib.Path({str(marks)!r}, {name!r}).write_text(repr(time.time()))")
    logged = []
    results = book.run_notebooks(root, profile="smoke", build_dir=tmp_path / "build", workers=2, log=logged.append)
    assert [r.source.relative_to(root).as_posix() for r in results] == ["book/intro.md", "book/a.ipynb", "book/b.ipynb"]
    assert all(r.ok for r in results), [r.message for r in results]
    finished = {name: float((marks / name).read_text()) for name in ("a", "b", "summary")}
    assert finished["summary"] > max(finished["a"], finished["b"]), finished
    assert logged[-1].startswith("  ok     book/intro.md"), logged


@pytest.mark.slow
def test_failing_notebook_fails_naming_notebook_and_cell_and_keeps_the_others(tmp_path):
    root = _tiny_book(tmp_path / "repo", ["book/intro", "book/good", "book/bad"])
    _myst_notebook(root / "book" / "intro.md", "print('gathered')")
    _notebook(root / "book" / "good.ipynb",
              "import os\nprint('profile', profile, 'env', os.environ['SRLIB_PROFILE'], 'results', os.environ['SRLIB_BOOK_RESULTS'])")
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
    assert "1 of 3 notebook(s) failed" in msg
    # the summary page gathers the chapters' results: not executed after a failure, and the error says so
    assert "book/intro.md: not executed" in msg
    assert not (build / "executed" / "book" / "intro.ipynb").exists()

    good = json.loads((build / "executed" / "book" / "good.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in good["cells"] for o in c.get("outputs", []))
    assert "profile smoke env smoke" in printed, f"parameters/env not passed to the kernel: {printed!r}"
    assert f"results {build.resolve() / 'results'}" in printed, "a smoke build writes its claims inside the build"
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


# ------------------------------------------------------------------- published copy


def test_publishable_notebook_replaces_the_injected_cell_by_a_note_of_the_values_used():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = profiles.current()\nscales = [2]", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\nprofile = "smoke"\nscales = [3, 4]\n',
                                  metadata={"tags": [book.INJECTED_TAG]}),
        nbformat.v4.new_code_cell("print(profile)"),
    ])
    injected_id = nb.cells[1].id
    shown = book.publishable_notebook(nb)
    assert nb.cells[1].cell_type == "code", "the executed notebook itself must be left as it is"
    assert [c.cell_type for c in shown.cells] == ["code", "markdown", "code"]
    assert shown.cells[0].source == nb.cells[0].source and shown.cells[2].source == nb.cells[2].source
    note = shown.cells[1]
    assert note.id == injected_id
    assert note.source.startswith(f"```{{container}} {book.BUILD_PARAMETERS_CLASS}\n")
    assert '`profile = "smoke"`, `scales = [3, 4]`' in note.source
    assert not any(book.INJECTED_TAG in c.metadata.get("tags", []) for c in shown.cells)
    nbformat.validate(shown)


# ------------------------------------------------------------------- Sphinx extension


def test_sphinx_extension_writes_each_inline_script_once(tmp_path):
    """Sphinx 7.4 wrote inline scripts added after builder init twice (sphinx-thebe's const then threw)."""
    from sphinx.application import Sphinx

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['sphinx_thebe', 'sphinx_togglebutton', 'srlib.book']\n")
    (src / "index.rst").write_text("Title\n=====\n\ntext\n")
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None, warning=None,
                 freshenv=True)
    app.build(force_all=True)
    html = (out / "index.html").read_text()
    assert html.count("const THEBE_JS_URL") == 1
    assert html.count("var togglebuttonSelector") == 1


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
    assert sphinx["html_static_path"] == ["book/_static"]
    assert "srlib.book" in cfg["sphinx"]["extra_extensions"], "the inline-script fix (srlib.book.setup) is off"
    assert sphinx["html_context"]["default_mode"] in ("auto", "light", "dark")
    widget_js = list(sphinx["nb_ipywidgets_js"])
    urls = [*widget_js, sphinx["mathjax_path"]]
    assert not any("//" in u for u in urls), urls
    spec = {p["dest"]: p for p in book.load_vendor_spec(REPO)["packages"]}
    for url in urls:
        if url.startswith("../"):
            dest, rest = url.removeprefix("../").split("/", 1)
            assert spec[dest]["entry"] == rest, f"{url} is not the vendored entry of {dest}"
        else:  # Sphinx serves it from _static/, i.e. from html_static_path
            assert (REPO / "book" / "_static" / url).is_file(), f"{url}: no book/_static/{url}"
    # the MathJax 2 Hub shim before the manager; the require.js paths after require.js, before the manager
    order = {u: i for i, u in enumerate(widget_js)}
    manager, requirejs = order["../html-manager/dist/embed-amd.js"], order["../requirejs/require.js"]
    assert order["mathjax2-hub-shim.js"] < manager
    assert requirejs < order["widgets-requirejs-paths.js"] < manager


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
