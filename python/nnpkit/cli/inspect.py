"""`nnpkit inspect MODEL`: summary of a model file's metadata."""

from __future__ import annotations

import argparse
import json


def _inspect(args: argparse.Namespace) -> int:
    from ..model import load

    model = load(args.model)
    m = model.metadata
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    origin = m.get("origin", {})
    lines = [
        f"model:             {args.model}",
        f"format version:    {m['format_version']}",
        f"type:              {m.get('model_type', 'unknown')}",
        f"origin:            {origin.get('kind', 'unknown')}" + (f" ({origin['source']})" if "source" in origin else ""),
        f"species:           {' '.join(m['species'])}",
        f"cutoff:            {m['cutoff']} {m['length_unit']}",
        f"interaction range: {m['interaction_range']} {m['length_unit']}",
        f"units:             length {m['length_unit']}, energy {m['energy_unit']}",
        f"dtype:             {m['dtype']}",
        f"committee size:    {m['committee_size']}",
    ]
    arch = m.get("architecture", {})
    for key, value in arch.items():
        lines.append(f"{key + ':':<18} {value}")
    print("\n".join(lines))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="summarize a model file's metadata")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="print the raw metadata as JSON")
    p.set_defaults(func=_inspect)
