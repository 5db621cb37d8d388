"""`nnpkit convert FORMAT ...`: model conversion from other formats.

Each format is a module in nnpkit.convert with ``register(subparsers)``; add it
to ``FORMATS``.
"""

from __future__ import annotations

import importlib

FORMATS: list[str] = ["n2p2", "ani", "torch"]


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="convert a model from another format into an nnpkit model file")
    formats = p.add_subparsers(dest="format", required=True)
    for name in FORMATS:
        importlib.import_module(f"nnpkit.convert.{name}").register(formats)
