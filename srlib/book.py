"""Build the book: execute chapters with papermill, vendor the page JavaScript, run Jupyter Book.

``python -m srlib.book run [--profile P] [--only CHAPTER]``
    Executes every notebook listed in ``_toc.yml`` (``.ipynb``, or MyST-markdown notebooks:
    ``.md`` with a ``kernelspec`` in the front matter) with papermill into
    ``_build/executed/<same path>.ipynb`` (at most 2 in parallel), passing ``profile`` as a
    parameter, and ``SRLIB_PROFILE`` and ``SRLIB_BOOK_RESULTS`` (:func:`book_results_dir`) in the
    environment; then builds ``_build/html`` from a staged source tree (``_build/source``) where
    the executed notebooks replace the sources, with execution off. The summary pages
    (:data:`SUMMARY_DOCUMENTS`: ``book/intro.md``, whose table gathers the build's
    ``claims/*.csv``) execute only after every other notebook of the run has finished and
    succeeded, so they show this build's claims. A failing notebook stops the build
    with an error naming the notebook and the cell; the other notebooks' executed copies are kept
    (the failed one is written next to them as ``<name>.failed.ipynb`` for inspection).
    In the staged copy papermill's ``injected-parameters`` cell is replaced by a one-line note
    giving the parameters the build used (:func:`publishable_notebook`).
``python -m srlib.book vendor``
    ``npm pack`` the pinned packages of ``book/vendor.json``, check their sha512 integrity, unpack
    only the files the page needs into ``book/_vendor/``. Does nothing when already present.
``python -m srlib.book build``
    Only the Jupyter Book step, from whatever is in ``_build/executed``.

This module is also a Sphinx extension (``_config.yml``: ``sphinx.extra_extensions``): see
:func:`setup`.
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures as futures
import fnmatch
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from srlib import REPO_ROOT
from srlib.atomic import replace_dir
from srlib.profiles import PROFILES

MAX_WORKERS = 2
VENDOR_STAMP = ".vendored.json"
#: Pages that gather what the other notebooks write (``book/intro.md``: the table of every reproduced
#: claim, read from the build's ``claims/*.csv``). :func:`run_notebooks` executes them only after every
#: other notebook of the same run has finished and succeeded. Paths relative to the book root.
SUMMARY_DOCUMENTS = ("book/intro.md",)
#: papermill tags the cell it inserts after the ``parameters`` cell with this.
INJECTED_TAG = "injected-parameters"
#: CSS class of the note that replaces that cell on the published page.
BUILD_PARAMETERS_CLASS = "srlib-build-parameters"


class BookError(RuntimeError):
    """A book build step failed; the message says which file and what to do."""


# --------------------------------------------------------------------------------------- toc


def _read_yaml(path: Path):
    import yaml

    if not path.is_file():
        raise BookError(f"{path} not found: the book needs _config.yml and _toc.yml at the repository root")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _toc_files(node) -> list[str]:
    """Every ``file:``/``root:`` entry of a Jupyter Book ``_toc.yml`` tree, in reading order."""
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found.extend(_toc_files(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_toc_files(child))
    return found


def is_markdown_notebook(path: Path) -> bool:
    """True for a MyST-markdown notebook: ``.md`` whose front matter names a ``kernelspec``."""
    if path.suffix != ".md":
        return False
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    return end > 0 and "kernelspec" in text[3:end]


def toc_documents(root: Path = REPO_ROOT) -> list[Path]:
    """The source files of every page in ``_toc.yml`` (relative to ``root``), in reading order."""
    root = Path(root)
    docs = []
    for entry in _toc_files(_read_yaml(root / "_toc.yml")):
        stem = root / entry
        candidates = [stem] if stem.suffix in (".md", ".ipynb") else [stem.with_suffix(s) for s in (".ipynb", ".md")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise BookError(f"_toc.yml lists {entry!r} but neither {entry}.ipynb nor {entry}.md exists under {root}")
        docs.append(hit.relative_to(root))
    return docs


def toc_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (to execute), relative to ``root``."""
    root = Path(root)
    return [d for d in toc_documents(root) if d.suffix == ".ipynb" or is_markdown_notebook(root / d)]


def read_notebook(path: Path):
    """An nbformat v4 notebook from ``.ipynb`` or a MyST-markdown notebook."""
    import nbformat

    path = Path(path)
    if path.suffix == ".md":
        from myst_nb.core.read import read_myst_markdown_notebook

        return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))
    return nbformat.read(path, as_version=4)


# --------------------------------------------------------------------------------- execution


@dataclass
class NotebookResult:
    source: Path
    output: Path
    ok: bool
    seconds: float
    message: str = ""
    skipped: bool = False  # a summary page not executed because another notebook failed


def _atomic_write_notebook(nb, dest: Path) -> None:
    import nbformat

    from srlib.atomic import atomic_open

    with atomic_open(dest, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)


def _describe_failure(source: Path, err) -> str:
    """One readable paragraph for a papermill failure: notebook, cell, exception."""
    cell = getattr(err, "cell_index", None)
    count = getattr(err, "exec_count", None)
    code = (getattr(err, "source", "") or "").strip().splitlines()
    excerpt = "\n".join("    " + line for line in code[:8]) + ("\n    ..." if len(code) > 8 else "")
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    where = f"cell {cell}" if cell is not None else "a cell"
    if count is not None:
        where += f" (execution count {count})"
    return f"{source}: {where} raised {ename}: {evalue}\n{excerpt}".rstrip()


def book_results_dir(root: Path, profile: str, build_dir: Path) -> Path:
    """Where this build's notebooks write claims and tables (``$SRLIB_BOOK_RESULTS``, read by ``srlib.claims``).

    The repository's ``results/`` for the cpu and paper books; ``<build>/results`` for a smoke
    build (its numbers mean nothing, and ``results/`` is left as it is).
    """
    return Path(build_dir) / "results" if profile == "smoke" else Path(root) / "results"


def execute_notebook(source: str, output: str, profile: str, cwd: str, timeout: float | None = None,
                     results_dir: str | None = None) -> NotebookResult:
    """Execute one notebook with papermill (runs in a worker process). Never raises for a cell error."""
    os.environ["SRLIB_PROFILE"] = profile
    if results_dir:
        from srlib.claims import BOOK_RESULTS_ENV

        os.environ[BOOK_RESULTS_ENV] = results_dir
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src, out = Path(source), Path(output)
    failed = out.with_name(out.stem + ".failed.ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    nb = read_notebook(src)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.running.ipynb")
    try:
        papermill.execute_notebook(
            nb, str(tmp), parameters={"profile": profile}, cwd=cwd, kernel_name="python3",
            progress_bar=False, log_output=False, execution_timeout=timeout,
            language="python",
        )
    except PapermillExecutionError as err:
        if tmp.exists():
            os.replace(tmp, failed)
        out.unlink(missing_ok=True)  # never leave a stale success next to a failure
        return NotebookResult(src, failed, False, time.perf_counter() - start, _describe_failure(src, err))
    except Exception as err:  # kernel died, bad parameters cell, unreadable notebook ...
        tmp.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
        return NotebookResult(src, failed, False, time.perf_counter() - start, f"{src}: {type(err).__name__}: {err}")
    os.replace(tmp, out)
    failed.unlink(missing_ok=True)
    return NotebookResult(src, out, True, time.perf_counter() - start)


def executed_path(build_dir: Path, rel: Path) -> Path:
    return Path(build_dir) / "executed" / rel.with_suffix(".ipynb")


def execution_plan(root: Path = REPO_ROOT, only: str | None = None) -> tuple[list[Path], list[Path]]:
    """``(chapters, summaries)``: the notebooks to execute first (in parallel), then the summary pages.

    ``summaries`` are the toc's notebooks listed in :data:`SUMMARY_DOCUMENTS`; they run after every
    chapter. With ``only``, the chapters are those whose path contains it; the summaries always run
    (they gather what the chapters just wrote).
    """
    root = Path(root)
    notebooks = toc_notebooks(root)
    summaries = [nb for nb in notebooks if nb.as_posix() in SUMMARY_DOCUMENTS]
    chapters = [nb for nb in notebooks if nb not in summaries]
    if only:
        chapters = [nb for nb in chapters if only in nb.as_posix()]
        if not chapters and not any(only in nb.as_posix() for nb in summaries):
            names = ", ".join(nb.as_posix() for nb in notebooks)
            raise BookError(f"--only {only!r} matches no notebook in _toc.yml (notebooks: {names})")
    return chapters, summaries


def run_notebooks(
    root: Path = REPO_ROOT, profile: str = "cpu", only: str | None = None, build_dir: Path | None = None,
    workers: int = MAX_WORKERS, timeout: float | None = None, log=print,
) -> list[NotebookResult]:
    """Execute the toc's notebooks (those whose path contains ``only``, if given) in parallel, then the summaries.

    The summary pages (:func:`execution_plan`) start only once every other notebook has finished;
    if one of those failed they are not executed (their result says ``skipped``).
    """
    root = Path(root).resolve()
    build_dir = Path(build_dir or root / "_build").resolve()
    if profile not in PROFILES:
        raise BookError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    chapters, summaries = execution_plan(root, only)
    results_dir = str(book_results_dir(root, profile, build_dir))
    workers = max(1, min(workers, max(len(chapters), len(summaries)), os.cpu_count() or 1))
    log(f"executing {len(chapters) + len(summaries)} notebook(s) at profile {profile!r} with {workers} worker(s)"
        + (f"; then {', '.join(nb.as_posix() for nb in summaries)}" if summaries and chapters else ""))
    results: list[NotebookResult] = []
    ctx = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        def execute_all(batch: list[Path]) -> None:
            jobs = {
                pool.submit(execute_notebook, str(root / nb), str(executed_path(build_dir, nb)), profile,
                            str((root / nb).parent), timeout, results_dir): nb
                for nb in batch
            }
            for job in futures.as_completed(jobs):
                res = job.result()
                results.append(res)
                state = "ok    " if res.ok else "FAILED"
                log(f"  {state} {jobs[job].as_posix()}  ({res.seconds:.1f} s) -> {res.output}")

        execute_all(chapters)  # returns once every chapter has finished
        failed = [r.source.relative_to(root).as_posix() for r in results if not r.ok]
        if failed:
            for nb in summaries:
                log(f"  skipped {nb.as_posix()} (summary page; {', '.join(failed)} failed)")
                results.append(NotebookResult(
                    root / nb, executed_path(build_dir, nb), False, 0.0,
                    f"{nb.as_posix()}: not executed: it gathers the other notebooks' results and runs only "
                    f"after all of them succeeded", skipped=True))
        else:
            execute_all(summaries)
    order = {nb: i for i, nb in enumerate(toc_notebooks(root))}
    results.sort(key=lambda r: order[r.source.relative_to(root)])
    return results


# ------------------------------------------------------------------------------------ build


def _copy_tree_files(src: Path, dst: Path, skip) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if skip(rel) or not path.is_file():
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def stage_sources(root: Path = REPO_ROOT, build_dir: Path | None = None, log=print) -> Path:
    """Copy the book's sources to ``<build>/source`` with executed notebooks in place of the sources."""
    root = Path(root).resolve()
    build_dir = Path(build_dir or root / "_build").resolve()
    stage = build_dir / "source"
    tmp_stage = Path(tempfile.mkdtemp(prefix=".source.", dir=build_dir))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, tmp_stage / name)
    notebooks = set(toc_notebooks(root))
    if (root / "book").is_dir():
        _copy_tree_files(
            root / "book", tmp_stage / "book",
            skip=lambda rel: ".ipynb_checkpoints" in rel.parts or rel.suffix == ".ipynb"
            or (Path("book") / rel) in notebooks,
        )
    for nb in notebooks:
        done = executed_path(build_dir, nb)
        target = (tmp_stage / nb).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        if done.is_file():
            _atomic_write_notebook(publishable_notebook(read_notebook(done)), target)
        else:
            log(f"  warning: {nb.as_posix()} has not been executed (no {done}); the page shows no outputs")
            if nb.suffix == ".md":
                shutil.copy2(root / nb, target.with_suffix(".md"))
            else:
                shutil.copy2(root / nb, target)
    _warn_stale_summaries(root, build_dir, notebooks, log)
    replace_dir(tmp_stage, stage)
    return stage


def _warn_stale_summaries(root: Path, build_dir: Path, notebooks, log) -> None:
    """A summary page executed before some other notebook shows older results (e.g. ``build`` after a failed run)."""
    done = {nb: executed_path(build_dir, nb) for nb in notebooks}
    times = {nb: p.stat().st_mtime for nb, p in done.items() if p.is_file()}
    for summary in (nb for nb in times if nb.as_posix() in SUMMARY_DOCUMENTS):
        newer = [nb.as_posix() for nb, t in times.items() if nb.as_posix() not in SUMMARY_DOCUMENTS and t > times[summary]]
        if newer:
            log(f"  warning: {summary.as_posix()} was executed before {', '.join(newer)}: its summary may be stale "
                f"(`python -m srlib.book run --only {summary.stem}` re-gathers it)")


def publishable_notebook(nb):
    """The executed notebook as its page shows it: papermill's ``injected-parameters`` cell replaced by a note.

    papermill inserts a code cell (``# Parameters`` then one assignment per parameter) right under
    the ``parameters`` cell; rendered, it looks like a second copy of the parameters. The page shows
    instead one line, in a ``div.srlib-build-parameters``, quoting those assignments verbatim: the
    values this build ran with. The parameters cell itself and the executed copy under
    ``_build/executed`` are left as they are.
    """
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code" or INJECTED_TAG not in cell.get("metadata", {}).get("tags", []):
            cells.append(cell)
            continue
        assignments = [line.strip() for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        quoted = ", ".join(f"``{a}``" if "`" in a else f"`{a}`" for a in assignments) or "none"
        note = nbformat.v4.new_markdown_cell(
            f"```{{container}} {BUILD_PARAMETERS_CLASS}\n"
            f"This build ran the page with {quoted} (papermill parameters set by `python -m srlib.book run`).\n```",
            metadata={"tags": [BUILD_PARAMETERS_CLASS]},
        )
        if "id" in cell:
            note["id"] = cell["id"]
        cells.append(note)
    nb.cells = cells
    return nb


def build_html(root: Path = REPO_ROOT, build_dir: Path | None = None, log=print) -> Path:
    """Run Jupyter Book (execution off) on the staged sources; the HTML ends in ``<build>/html``."""
    root = Path(root).resolve()
    build_dir = Path(build_dir or root / "_build").resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    missing = [p["dest"] for p in load_vendor_spec(root)["packages"] if not (root / "book" / "_vendor" / p["dest"] / p["entry"]).is_file()]
    if missing:
        raise BookError(f"book/_vendor lacks {', '.join(missing)}: run `python -m srlib.book vendor` (or `make vendor`) first")
    stage = stage_sources(root, build_dir, log=log)
    jb_out = build_dir / "jb"
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(stage),
           "--path-output", str(jb_out), "--builder", "html", "--all", "-q"]
    log("building HTML: jupyter-book " + " ".join(cmd[3:]))
    proc = subprocess.run(cmd, cwd=stage, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    for line in warnings:
        log("  " + line)
    built = jb_out / "_build" / "html"
    if not (built / "index.html").is_file():
        raise BookError(f"jupyter-book finished but {built}/index.html is missing:\n{proc.stdout[-2000:]}")
    html = build_dir / "html"
    replace_dir(built, html)
    log(f"book written to {html}/index.html")
    return html


def run_book(root: Path = REPO_ROOT, profile: str = "cpu", only: str | None = None, build_dir: Path | None = None,
             workers: int = MAX_WORKERS, timeout: float | None = None, log=print) -> Path:
    """Execute the notebooks, then build the HTML. Raises :class:`BookError` naming failed notebooks and cells."""
    results = run_notebooks(root, profile, only, build_dir, workers, timeout, log)
    failed = [r for r in results if not r.ok and not r.skipped]
    if failed:
        kept = [r.output for r in results if r.ok]
        skipped = [r.message for r in results if r.skipped]
        msg = "\n\n".join(r.message for r in failed)
        raise BookError(
            f"{len(failed)} of {len(results)} notebook(s) failed; the HTML was not built.\n\n{msg}\n\n"
            + "".join(line + "\n" for line in skipped) +
            f"Executed copies kept: {', '.join(map(str, kept)) or 'none'}; failed copies (with the traceback "
            f"in the cell output): {', '.join(str(r.output) for r in failed)}"
        )
    return build_html(root, build_dir, log)


# ----------------------------------------------------------------------------------- vendor


def load_vendor_spec(root: Path = REPO_ROOT) -> dict:
    path = Path(root) / "book" / "vendor.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BookError(f"{path} not found: it pins the JavaScript packages the book needs") from None
    except json.JSONDecodeError as err:
        raise BookError(f"{path} is not valid JSON ({err}); restore it from git") from None
    for pkg in spec.get("packages", []):
        for key in ("name", "version", "integrity", "dest", "keep", "entry"):
            if key not in pkg:
                raise BookError(f"{path}: package {pkg.get('name', '?')!r} lacks {key!r}")
    return spec


def npm_integrity(data: bytes) -> str:
    """npm's ``integrity`` string (Subresource Integrity, sha512) of a tarball's bytes."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _kept(member: str, keep: list[str]) -> bool:
    return not member.endswith(".map") and any(fnmatch.fnmatchcase(member, pattern) for pattern in keep)


def unpack_package(tarball: Path, pkg: dict, vendor_dir: Path) -> Path:
    """Verify ``tarball`` against ``pkg['integrity']`` and unpack its kept files into ``vendor_dir/dest``."""
    data = Path(tarball).read_bytes()
    got = npm_integrity(data)
    if got != pkg["integrity"]:
        raise BookError(
            f"{tarball}: integrity mismatch for {pkg['name']}@{pkg['version']}: expected {pkg['integrity']}, got {got}. "
            "The registry served different bytes than the pin in book/vendor.json; do not use it."
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{pkg['dest']}.", dir=vendor_dir))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            count = 0
            for member in tar.getmembers():
                name = member.name.split("/", 1)[1] if "/" in member.name else member.name
                if not member.isfile() or not _kept(name, pkg["keep"]):
                    continue
                target = (tmp / name).resolve()
                if tmp.resolve() not in target.parents:
                    raise BookError(f"{tarball}: refusing member outside the package: {member.name}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
        if not (tmp / pkg["entry"]).is_file():
            raise BookError(f"{tarball}: {pkg['entry']} not in the package; fix 'keep'/'entry' in book/vendor.json")
        stamp = {k: pkg[k] for k in ("name", "version", "integrity", "keep")}
        (tmp / VENDOR_STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        dest = vendor_dir / pkg["dest"]
        replace_dir(tmp, dest)
        return dest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def vendor_is_current(pkg: dict, vendor_dir: Path) -> bool:
    stamp = vendor_dir / pkg["dest"] / VENDOR_STAMP
    try:
        have = json.loads(stamp.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    want = {k: pkg[k] for k in ("name", "version", "integrity", "keep")}
    return have == want and (vendor_dir / pkg["dest"] / pkg["entry"]).is_file()


def vendor(root: Path = REPO_ROOT, force: bool = False, log=print) -> Path:
    """Fetch the pinned JavaScript of ``book/vendor.json`` into ``book/_vendor`` (idempotent)."""
    root = Path(root)
    spec = load_vendor_spec(root)
    vendor_dir = root / "book" / "_vendor"
    todo = [p for p in spec["packages"] if force or not vendor_is_current(p, vendor_dir)]
    for pkg in spec["packages"]:
        if pkg not in todo:
            log(f"  {pkg['name']}@{pkg['version']}: present")
    if not todo:
        return vendor_dir
    npm = shutil.which("npm")
    if npm is None:
        raise BookError("npm not found: install Node.js (it provides npm) to vendor the book's JavaScript")
    with tempfile.TemporaryDirectory(prefix="srlib-npm-") as tmp:
        specs = [f"{p['name']}@{p['version']}" for p in todo]
        log("npm pack " + " ".join(specs))
        proc = subprocess.run([npm, "pack", "--json", "--pack-destination", tmp, *specs], capture_output=True, text=True, cwd=tmp)
        if proc.returncode != 0:
            raise BookError(f"npm pack {' '.join(specs)} failed (exit {proc.returncode}); is the npm registry reachable?\n{proc.stderr[-2000:]}")
        packed = json.loads(proc.stdout)
        for pkg, info in zip(todo, packed):
            dest = unpack_package(Path(tmp) / info["filename"], pkg, vendor_dir)
            size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
            log(f"  {pkg['name']}@{pkg['version']}: integrity ok, {size / 1e6:.1f} MB in {dest}")
    return vendor_dir


# -------------------------------------------------------------------------- Sphinx extension


def _one_inline_script_each(app) -> None:
    """Make the HTML builder see ``None`` and ``''`` as the same (absent) script filename.

    Sphinx 7.4 writes every inline script (``app.add_js_file(None, body=...)``) added once the
    builder exists twice into each page: ``app.add_js_file`` hands the builder ``None``, and
    ``prepare_writing`` adds the registry's copy again as ``''``, which its duplicate check sees as
    another script. sphinx-thebe's ``const THEBE_JS_URL = ...`` then throws "Identifier
    'THEBE_JS_URL' has already been declared" on every page. Fixed upstream (sphinx-doc/sphinx#13402,
    Sphinx 8.2) the same way: ``None`` becomes ``''`` before it reaches the builder.
    """
    builder = app.builder
    add_js_file = getattr(builder, "add_js_file", None)
    if add_js_file is None or getattr(add_js_file, "_srlib_normalised", False):
        return

    def add_js_file_normalised(filename, **kwargs):
        return add_js_file(filename or "", **kwargs)

    add_js_file_normalised._srlib_normalised = True
    builder.add_js_file = add_js_file_normalised


def setup(app):
    """Sphinx extension (``_config.yml``: ``sphinx.extra_extensions: [srlib.book]``)."""
    # before any other builder-inited handler (sphinx-togglebutton's adds an inline script there)
    app.connect("builder-inited", _one_inline_script_each, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# -------------------------------------------------------------------------------------- CLI


def _default_profile() -> str:
    try:
        from srlib import profiles

        return profiles.current()
    except ImportError:
        return os.environ.get("SRLIB_PROFILE", "cpu")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="sizes and schedules of the runs (default: $SRLIB_PROFILE, else cpu)")
    parser.add_argument("--only", metavar="CHAPTER", default=None,
                        help="execute only notebooks whose path contains CHAPTER (e.g. evaluation), then the "
                             f"summary pages ({', '.join(SUMMARY_DOCUMENTS)}), which gather the chapters' results; "
                             "the others keep their last executed copy")
    parser.add_argument("--build-dir", type=Path, default=None, help="where executed/, source/ and html/ go (default: _build)")
    parser.add_argument("--workers", type=int, default=MAX_WORKERS, help=f"notebooks executed at once (default {MAX_WORKERS})")
    parser.add_argument("--timeout", type=float, default=None, help="seconds a cell may run (default: no limit)")


def _run_cli(args) -> int:
    profile = args.profile or _default_profile()
    try:
        run_book(REPO_ROOT, profile, args.only, args.build_dir, args.workers, args.timeout)
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def cli_commands():
    """``python -m srlib book ...`` is the same as ``python -m srlib.book run ...``."""
    return [("book", "execute the chapters with papermill and build the HTML book", add_run_arguments, _run_cli)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m srlib.book",
        description="Execute the book's notebooks with papermill and build the HTML with Jupyter Book 1.",
        epilog="Typical use: `python -m srlib.book vendor` once, then `python -m srlib.book run --profile smoke`. "
               "The book is then at _build/html/index.html.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_p = sub.add_parser("run", help="execute every notebook of _toc.yml, then build _build/html",
                           description="Execute every notebook of _toc.yml with papermill, then build the HTML.")
    add_run_arguments(run_p)
    vendor_p = sub.add_parser("vendor", help="fetch the pinned JavaScript (book/vendor.json) into book/_vendor",
                              description="npm pack the packages pinned in book/vendor.json, verify their sha512 "
                                          "integrity and unpack the needed files into book/_vendor.")
    vendor_p.add_argument("--force", action="store_true", help="fetch again even when present")
    build_p = sub.add_parser("build", help="only build _build/html from the already executed notebooks",
                             description="Stage the sources with the executed notebooks and run Jupyter Book (no execution).")
    build_p.add_argument("--build-dir", type=Path, default=None, help="default: _build")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run_cli(args)
        if args.command == "vendor":
            vendor(REPO_ROOT, force=args.force)
        elif args.command == "build":
            build_html(REPO_ROOT, args.build_dir)
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
