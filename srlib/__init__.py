"""srlib: the small PyTorch library behind the super-resolution reproduction book.

Conventions (value range, channel order, Y channel, border shave) are written down once,
in :mod:`srlib.conventions`. Importing ``srlib`` is cheap: submodules are imported on use.
"""
__version__ = "0.1.0"
