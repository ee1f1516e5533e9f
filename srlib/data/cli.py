"""The ``python -m srlib data`` command: list, verify, prepare (LR caches) and fetch datasets.

:func:`cli_commands` is what :mod:`srlib.__main__` calls; the work is done by
:mod:`srlib.data.datasets` and :mod:`srlib.data.files`.
"""
from __future__ import annotations

import sys

from srlib.conventions import as_scale
from srlib.data import datasets as _ds
from srlib.data.datasets import DATASETS, DataError, _remedy, find_root, prepare_lr_cache, spec
from srlib.data.files import fetch, verify


PREPARE_SETS = ("Set5", "Set14", "B100", "Urban100", "T91", "BSD200")
PREPARE_SCALES = (2, 3, 4)


def _cmd_list(args) -> int:
    print(f"{'name':<14}{'kind':<10}{'count':>6}  where")
    for key in DATASETS.names():
        s = spec(key)
        if s.members:
            where = "= " + " + ".join(s.members)
        else:
            root = find_root(s.name)
            where = str(root / s.dir) if root else f"missing ({'fetchable' if s.fetchable else 'put files in place, see data/README.md'})"
        print(f"{s.name:<14}{s.kind:<10}{s.count:>6}  {where}")
    print("roots searched in order: " + ", ".join(str(r) for r in _ds.data_roots()))
    return 0


def _present(name: str) -> bool:
    s = spec(name)
    return all(find_root(m) is not None for m in s.members) if s.members else find_root(s.name) is not None


def _cmd_verify(args) -> int:
    names = args.names or [n for n in DATASETS.names() if not spec(n).members and _present(n)]
    bad = 0
    for n in names:
        try:
            r = verify(n, use_stamp=not args.force)
            print(f"ok    {r['name']:<14}{r['files']:>5} files  ({r['checked']}{', cached' if r['cached'] else ''})")
        except (DataError, KeyError) as e:
            bad += 1
            print(f"FAIL  {n}: {e}")
    return 1 if bad else 0


def _cmd_prepare(args) -> int:
    bad = 0
    for n in PREPARE_SETS:
        if not _present(n):
            print(f"skip  {n}: not found ({_remedy(spec(n))})")
            continue
        try:
            r = verify(n)
            computed = sum(prepare_lr_cache(n, sc, progress=not args.quiet) for sc in args.scales)
            print(f"ok    {n:<10} verified{' (cached)' if r['cached'] else ''}, LR x{','.join(map(str, args.scales))}: "
                  f"{computed} computed")
        except DataError as e:
            bad += 1
            print(f"FAIL  {n}: {e}")
    for n in DATASETS.names():
        if spec(n).name not in PREPARE_SETS and not spec(n).members and _present(n):
            try:
                verify(n)
                print(f"ok    {spec(n).name:<10} verified")
            except DataError as e:
                bad += 1
                print(f"FAIL  {spec(n).name}: {e}")
    return 1 if bad else 0


def _cmd_fetch(args) -> int:
    try:
        path = fetch(args.name, dest_root=args.dest, url=args.url, sha256=args.sha256)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"fetched {spec(args.name).name} into {path}")
    return 0


def scale(text: str) -> int | float:
    """A --scales value: an integer or a non-integer > 1 (see :func:`srlib.conventions.as_scale`)."""
    return as_scale(float(text))


def _add_arguments(parser) -> None:
    parser.description = ("Datasets: list where they are, verify them against MANIFEST.tsv, prepare the bicubic LR "
                          "caches, or fetch an archive. Roots searched in order: $SRLIB_DATA, <repo>/data, "
                          "<repo>/../shared/data.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="name, kind, image count and where each dataset was found (or that it is missing)")
    p = sub.add_parser("verify", help="check files against MANIFEST.tsv (sha256 of file or pixels); cached by size+mtime")
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: every dataset present)")
    p.add_argument("--force", action="store_true", help="rehash even if a verification stamp says the files are unchanged")
    p = sub.add_parser("prepare", help="verify present sets and build the bicubic LR caches (quick when already done)")
    p.add_argument("--scales", type=scale, nargs="+", default=list(PREPARE_SCALES), metavar="S",
                   help="scales of the LR caches (default: 2 3 4; non-integer ones such as 2.5 too)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p = sub.add_parser("fetch", help="download and unpack a dataset archive into the first writable root")
    p.add_argument("name", metavar="NAME", help="dataset name (see `data list`)")
    p.add_argument("--url", help="archive URL (zip or tar) instead of the registry's official one")
    p.add_argument("--sha256", help="expected sha256 of the archive (checked before unpacking)")
    p.add_argument("--dest", help="data root to unpack into (default: $SRLIB_DATA or <repo>/data)")


def _run(args) -> int:
    return {"list": _cmd_list, "verify": _cmd_verify, "prepare": _cmd_prepare, "fetch": _cmd_fetch}[args.action](args)


def cli_commands():
    return [("data", "list, verify, prepare (LR caches) or fetch the datasets", _add_arguments, _run)]
