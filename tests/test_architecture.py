"""The house rules of docs/ARCHITECTURE.md, checked on the code itself (ast, no imports of srlib needed):

* floors: a module imports only modules of its own floor or lower (static imports, function-level
  ones included), and no module imports itself back through others (no circle);
* a chapter never imports another chapter;
* every public function of ``srlib/chapters/<key>/<stem>.py`` is called from ``book/<key>/<stem>.ipynb``
  or from the module itself (no chapter code that no page uses);
* ``import srlib.profiles`` (and the other bottom floors) does not import torch.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRLIB = ROOT / "srlib"

# bottom to top; a module belongs to the first floor whose prefix matches its dotted name
FLOORS = [
    ("srlib", "srlib.conventions", "srlib.registry", "srlib.atomic", "srlib.config", "srlib.papers", "srlib.lfr"),
    ("srlib.data", "srlib.degrade"),
    ("srlib.models", "srlib.metrics", "srlib.fid", "srlib.complexity"),
    ("srlib.losses",),
    ("srlib.train",),
    ("srlib.profiles", "srlib.runs", "srlib.phases"),
    ("srlib.claims", "srlib.viz", "srlib.curves"),
    ("srlib.chapters",),
    ("srlib.book",),
    ("srlib.__main__",),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRLIB.rglob("*.py"))}


def floor_of(name: str) -> int:
    best, best_len = None, -1
    for k, prefixes in enumerate(FLOORS):
        for pre in prefixes:
            if (name == pre or name.startswith(pre + ".")) and len(pre) > best_len:
                best, best_len = k, len(pre)
    assert best is not None, f"{name} is on no floor: add it to FLOORS here and to docs/ARCHITECTURE.md"
    return best


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """srlib modules imported anywhere in ``path`` (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("srlib"):
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("srlib"):
                continue
            for a in node.names:  # "from srlib import data" imports the module srlib.data
                sub = f"{mod}.{a.name}"
                out.add(sub if sub in known else mod)
    out.discard(name)
    return {m for m in out if m in known}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_every_import_goes_down_or_level():
    graph = import_graph()
    upward = [f"{a} (floor {floor_of(a)}) imports {b} (floor {floor_of(b)})"
              for a, targets in graph.items() for b in targets
              if floor_of(b) > floor_of(a) and not b == "srlib"]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def _parent_packages(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts))}


def test_no_import_circle():
    graph = import_graph()
    # importing a package runs its __init__: a module importing its own package is not a circle
    edges = {a: {b for b in bs if b not in _parent_packages(a)} for a, bs in graph.items()}
    state, stack, circles = {}, [], []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == "open":
                circles.append(" -> ".join(stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = "done"

    for n in sorted(edges):
        if n not in state:
            visit(n)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_a_chapter_never_imports_another_chapter():
    graph = import_graph()
    bad = []
    for a, targets in graph.items():
        if a.startswith("srlib.chapters.") and a.count(".") >= 2:
            own = a.split(".")[2]
            bad += [f"{a} imports {b}" for b in targets
                    if b.startswith("srlib.chapters.") and b.count(".") >= 2 and b.split(".")[2] != own]
    assert not bad, "\n".join(bad)


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def chapter_notebook_modules():
    for nb in sorted((ROOT / "book").glob("*/*.ipynb")):
        mod = SRLIB / "chapters" / nb.parent.name / f"{nb.stem}.py"
        if mod.exists():
            yield nb, mod


def test_chapter_modules_follow_their_notebooks():
    pairs = list(chapter_notebook_modules())
    assert {m.relative_to(ROOT).as_posix() for _, m in pairs} >= {
        "srlib/chapters/pspl/attention.py", "srlib/chapters/pspl/convergence.py",
        "srlib/chapters/pspl/comparison.py", "srlib/chapters/evaluation/protocol.py"}
    unused = []
    for nb, mod in pairs:
        code = _notebook_code(nb)
        source = mod.read_text(encoding="utf-8")
        tree = ast.parse(source)
        called_inside = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                if f"{node.name}(" not in code and node.name not in called_inside:
                    unused.append(f"{mod.relative_to(ROOT)}: {node.name} is called neither from {nb.relative_to(ROOT)} "
                                  "nor from its own module")
    assert not unused, "\n".join(unused)


def test_every_chapter_package_has_experiments_and_a_book_folder():
    for pkg in sorted(p for p in (SRLIB / "chapters").iterdir() if (p / "__init__.py").exists()):
        assert (pkg / "experiments.py").exists(), f"{pkg} lacks experiments.py"
        assert (ROOT / "book" / pkg.name).is_dir(), f"srlib/chapters/{pkg.name} has no book/{pkg.name}/"


@pytest.mark.parametrize("module", ["srlib.profiles", "srlib.config", "srlib.conventions", "srlib.registry",
                                    "srlib.claims", "srlib.book"])
def test_bottom_modules_do_not_import_torch(module):
    code = f"import {module}, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_profile_discovery_does_not_import_other_chapters_code_or_torch():
    code = ("import sys; from srlib import profiles; profiles.keys(); assert 'torch' not in sys.modules, 'torch'; "
            "bad = [m for m in sys.modules if m.startswith('srlib.chapters.') and not m.endswith('.experiments') "
            "and m.count('.') > 2]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_model_files_import_blocks_never_each_other():
    graph = import_graph()
    bad = [f"{a} imports {b}" for a, targets in graph.items() if a.startswith("srlib.models.")
           for b in targets if b.startswith("srlib.models.") and b != "srlib.models.blocks"]
    assert not bad, "model files share code through srlib.models.blocks only:\n" + "\n".join(bad)
