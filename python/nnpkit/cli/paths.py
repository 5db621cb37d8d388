"""`nnpkit paths`: one line per installed library, e.g. `lammps-plugin: <path>`."""

from __future__ import annotations

import argparse


def _paths(args: argparse.Namespace) -> int:
    from ..paths import installed_paths

    for key, path in installed_paths().items():
        print(f"{key}: {path}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("paths", help="print where the core library and engine plugins are installed")
    p.set_defaults(func=_paths)
