"""The ``nnpkit`` command-line tool."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import numpy as np


def _inspect(args: argparse.Namespace) -> int:
    from .model import load

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
        lines.append(f"{key + ':':<19}{value}")
    print("\n".join(lines))
    return 0


def _read_structures(path: str, index: str):
    import ase.io

    return ase.io.read(path, index=index)


def _eval(args: argparse.Namespace) -> int:
    from .model import load

    model = load(args.model)
    structures = _read_structures(args.structure, args.index)
    if not isinstance(structures, list):
        structures = [structures]
    for k, atoms in enumerate(structures):
        result = model.compute(atoms)
        fmax = float(np.linalg.norm(result["forces"], axis=1).max()) if len(atoms) else 0.0
        print(f"structure {k}: {len(atoms)} atoms ({atoms.get_chemical_formula()})")
        print(f"  energy:        {result['energy']:.10f} eV ({result['energy'] / max(len(atoms), 1):.10f} eV/atom)")
        print(f"  max |force|:   {fmax:.6f} eV/Ang")
        if "stress" in result:
            gpa = result["stress"] / 1e9 * 1.602176634e-19 * 1e30
            print("  stress (GPa):  " + " ".join(f"{s:.6f}" for s in gpa) + "  (xx yy zz yz xz xy)")
        if "energy_std" in result:
            print(f"  committee:     energy std {result['energy_std']:.6f} eV, "
                  f"max force deviation {float(result['forces_std'].max()):.6f} eV/Ang")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnpkit", description="Neural-network interatomic potentials in LAMMPS, OpenMM and ASE")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarize a model file's metadata")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="print the raw metadata as JSON")
    p.set_defaults(func=_inspect)
    p = sub.add_parser("eval", help="energy, max force and stress of structures in any file ASE reads")
    p.add_argument("model")
    p.add_argument("structure")
    p.add_argument("--index", default=":", help="which structures of the file (ASE index syntax, default all)")
    p.set_defaults(func=_eval)
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
