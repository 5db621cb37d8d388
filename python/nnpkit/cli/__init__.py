"""The ``nnpkit`` command-line tool. Each subcommand lives in its own module
with a ``register(subparsers)`` function; add new ones to ``_COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

_COMMANDS = ["inspect", "eval", "paths", "convert", "train"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="nnpkit", description="Neural-network interatomic potentials in LAMMPS, OpenMM and ASE"
    )
    parser.add_argument("--version", action="version", version=f"nnpkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings about the model, one line each on stderr (never hidden by -q)."""
    print(f"nnpkit: {category.__name__}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors are one line on stderr and exit status 1
    (130 for Ctrl-C), never a traceback."""
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except BrokenPipeError:
        # `nnpkit inspect model.pt | head`: the reader left; exit quietly as coreutils do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as interrupt:
        print(f"nnpkit {args.command}: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError) as error:
        print(f"nnpkit {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
