"""`nnpkit eval MODEL STRUCTURE`: energy, max force and stress of structures."""

from __future__ import annotations

import argparse

import numpy as np


def _read_structures(path: str, index: str, file_format: str | None = None, model=None):
    import ase.io
    from ase.io.formats import string2index

    from ..io.n2p2_data import is_n2p2_data, read_n2p2_data

    if file_format == "n2p2" or (file_format is None and is_n2p2_data(path)):
        # n2p2 files carry no units: they are in the units the potential was trained in.
        length, energy = ("Ang", "eV") if model is None else (
            model.metadata["length_unit"], model.metadata["energy_unit"])
        print(f"reading {path} as n2p2 structure data in {length} and {energy}")
        structures = read_n2p2_data(path, length, energy)
        return structures[string2index(index)]
    return ase.io.read(path, index=index, format=file_format)


def _eval(args: argparse.Namespace) -> int:
    from ..model import load

    model = load(args.model)
    structures = _read_structures(args.structure, args.index, args.format, model)
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
        if "extrapolation_counts" in result and result["extrapolation_counts"].any():
            counts = result["extrapolation_counts"]
            print(f"  extrapolation: {int((counts > 0).sum())} atoms outside the training range "
                  f"({int(counts.sum())} descriptor values)")
        if "energy_std" in result:
            print(f"  committee:     energy std {result['energy_std']:.6f} eV, "
                  f"max force deviation {float(result['forces_std'].max()):.6f} eV/Ang")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="energy, max force and stress of structures in any file ASE reads or n2p2 input.data"
    )
    p.add_argument("model")
    p.add_argument("structure")
    p.add_argument("--index", default=":", help="which structures of the file (ASE index syntax, default all)")
    p.add_argument("--format", default=None,
                   help="file format: 'n2p2' (input.data, detected automatically) or any ASE format name")
    p.set_defaults(func=_eval)
