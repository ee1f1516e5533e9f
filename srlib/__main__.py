"""Command line: ``python -m srlib COMMAND --help``.

Each module that offers commands defines ``cli_commands()`` returning a list of
``(name, help, add_arguments(parser), run(args) -> int)``. Modules are imported lazily only
for the command that runs, except when listing every command's help.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help). Keep this table in the order a newcomer needs it.
COMMANDS = {
    "data": ("srlib.data.cli", "list, verify, prepare (LR caches) or fetch the datasets"),
    "bicubic": ("srlib.metrics", "the bicubic PSNR/SSIM table against the papers' rows"),
    "complexity": ("srlib.complexity", "parameters, Mult-Adds (720p output) and receptive field of models"),
    "train": ("srlib.runs", "train a model from a config (through the run store)"),
    "eval": ("srlib.runs", "evaluate a trained run or checkpoint on test sets"),
    "reproduce": ("srlib.runs", "retrain a committed run from an empty store and compare it with the committed one"),
    "book": ("srlib.book", "execute the chapters with papermill and build the HTML book"),
}


def _find(module, name):
    for cmd in importlib.import_module(module).cli_commands():
        if cmd[0] == name:
            return cmd
    raise SystemExit(f"internal error: {module} does not define command {name!r}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m srlib",
        description="srlib: datasets, degradation, metrics, models and training for the SR reproduction book.",
        epilog="Run 'python -m srlib COMMAND --help' for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.print_help() if not argv or argv[0] in ("-h", "--help") else parser.parse_args(argv)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module, help_ = COMMANDS[name]
    _, help_, add_arguments, run = _find(module, name)
    cmd_parser = argparse.ArgumentParser(prog=f"python -m srlib {name}", description=help_)
    add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
