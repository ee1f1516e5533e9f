"""One package per paper key (``pspl``, ``fdloss``, ``multiblock``, ``asdn``, ``srugan``; the
evaluation chapter needs none): ``experiments.py`` with the chapter's run configs per profile
(found by :func:`srlib.profiles.discover`) and one module per notebook of ``book/<key>/`` with the
notebook's stem. A chapter never imports another chapter (tests/test_architecture.py).
"""
