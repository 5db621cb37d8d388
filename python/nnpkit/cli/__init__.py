"""The ``nnpkit`` command-line tool. Each subcommand lives in its own module
with a ``register(subparsers)`` function; add new ones to ``_COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

_COMMANDS = ["inspect", "eval", "paths", "convert", "train"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnpkit", description="Neural-network interatomic potentials in LAMMPS, OpenMM and ASE"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"nnpkit {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
