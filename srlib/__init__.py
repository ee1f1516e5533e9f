"""srlib: the small PyTorch library behind the super-resolution reproduction book.

Conventions (value range, channel order, Y channel, border shave) are written down once,
in :mod:`srlib.conventions`. Importing ``srlib`` is cheap: submodules are imported on use.
"""
from pathlib import Path as _Path

__version__ = "0.1.0"

#: The repository checkout srlib runs from: ``results/``, ``data/``, ``book/`` are resolved against it,
#: so notebooks and commands find them from any working directory.
REPO_ROOT = _Path(__file__).resolve().parents[1]
