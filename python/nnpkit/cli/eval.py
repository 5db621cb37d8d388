"""`nnpkit eval MODEL STRUCTURE`: energy, max force and stress of structures, and the
errors against the reference labels the file carries (as DeePMD-kit's `dp test`)."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase.units import GPa

#: eV/Angstrom^3 in GPa (ASE's constants, as everywhere in nnpkit)
_GPA = 1.0 / GPa
_INDEX = re.compile(r"^\s*(-?\d+)?\s*(:\s*(-?\d+)?\s*(:\s*(-?\d+)?\s*)?)?$")


def parse_index(index: str) -> int | slice:
    """ASE's index syntax: ``3``, ``-1``, ``:``, ``0:10``, ``::2``; ValueError otherwise."""
    match = _INDEX.match(index)
    if not index.strip() or match is None:
        raise ValueError(f"--index must be a structure number (0, -1, ...) or a slice (':', '0:10', '::2'), "
                         f"got {index!r}")
    if match.group(2) is None:
        return int(match.group(1))
    parts = [p.strip() for p in index.split(":")]
    return slice(*[int(p) if p else None for p in parts])


def read_structures(path: str, index: str, file_format: str | None = None, model: Any = None) -> list[tuple[int, Any]]:
    """``(position in the file, ase.Atoms)`` of the structures ``index`` selects; ValueError
    (or FileNotFoundError) with the file name for anything unreadable."""
    import os

    import ase.io

    from ..io.n2p2_data import is_n2p2_data, read_n2p2_data

    selection = parse_index(index)
    if not os.path.exists(path):
        raise FileNotFoundError(f"structure file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a structure file")
    if file_format == "n2p2" or (file_format is None and is_n2p2_data(path)):
        # n2p2 files carry no units: they are in the units the potential was trained in.
        length, energy = ("Ang", "eV") if model is None else (
            model.metadata["length_unit"], model.metadata["energy_unit"])
        print(f"reading {path} as n2p2 structure data in {length} and {energy}")
        structures = read_n2p2_data(path, length, energy)
    else:
        if file_format is not None:
            from ase.io.formats import ioformats

            if file_format not in ioformats:
                raise ValueError(f"unknown --format {file_format!r}: use 'n2p2' or an ASE format name "
                                 "(extxyz, xyz, vasp, cif, lammps-data, traj, ...)")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{path} is empty: it holds no structures")
        try:
            structures = ase.io.read(path, index=":", format=file_format)
        except Exception as error:  # noqa: BLE001  (ASE raises many types for unreadable files)
            what = f"as {file_format}" if file_format else "(format guessed from the name and contents)"
            reason = str(error) or type(error).__name__
            raise ValueError(f"cannot read {path} {what}: {reason}; give --format if the guess is wrong") from None
    if not structures:
        raise ValueError(f"{path} holds no structures")
    positions = list(range(len(structures)))
    if isinstance(selection, int):
        if not -len(structures) <= selection < len(structures):
            raise ValueError(f"--index {selection} is out of range: {path} holds {len(structures)} structures "
                             f"(0..{len(structures) - 1})")
        chosen = [positions[selection]]
    else:
        chosen = positions[selection]
        if not chosen:
            raise ValueError(f"--index {index} selects none of the {len(structures)} structures of {path}")
    return [(k, structures[k]) for k in chosen]


@dataclass
class ErrorStatistics:
    """Running sums of the differences between predictions and reference labels."""

    n_structures: int = 0
    n_atoms: int = 0
    energy: list[float] = field(default_factory=list)  # eV per structure
    energy_per_atom: list[float] = field(default_factory=list)
    forces: list[np.ndarray] = field(default_factory=list)  # per component, eV/Angstrom
    stress: list[np.ndarray] = field(default_factory=list)  # GPa, Voigt components

    def add(self, result: dict[str, Any], atoms: Any, energy: float | None, forces: np.ndarray | None,
            stress: np.ndarray | None) -> None:
        if energy is None and forces is None:
            return
        self.n_structures += 1
        self.n_atoms += len(atoms)
        if energy is not None:
            self.energy.append(result["energy"] - energy)
            self.energy_per_atom.append((result["energy"] - energy) / max(len(atoms), 1))
        if forces is not None:
            self.forces.append((result["forces"] - forces).ravel())
        if stress is not None and "stress" in result:
            reference = np.array([stress[a, b] for a, b in ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))])
            self.stress.append((result["stress"] - reference) * _GPA)

    def lines(self) -> list[str]:
        if self.n_structures == 0:
            return []

        def row(label: str, values: list, unit: str) -> str:
            v = np.concatenate([np.atleast_1d(x) for x in values])
            rmse, mae = float(np.sqrt(np.mean(v**2))), float(np.mean(np.abs(v)))
            return f"  {label:<18} RMSE {rmse:.6e}  MAE {mae:.6e}  {unit}"

        out = [f"errors against the reference labels ({self.n_structures} structures, {self.n_atoms} atoms):"]
        if self.energy:
            out.append(row("energy", self.energy, "eV"))
            out.append(row("energy per atom", self.energy_per_atom, "eV/atom"))
        if self.forces:
            out.append(row("force components", self.forces, "eV/Ang"))
        if self.stress:
            out.append(row("stress components", self.stress, "GPa"))
        return out


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..model import load
    from ..train.data import reference_labels

    model = load(args.model)
    if args.committee_statistics and model.committee_size == 1:
        print(f"--committee-statistics: model {args.model} is not a committee; there is no spread to print",
              file=sys.stderr)
    committee_statistics = args.committee_statistics and model.committee_size > 1
    structures = read_structures(args.structure, args.index, args.format, model)
    statistics = ErrorStatistics()
    progress = tqdm(total=len(structures), desc="evaluating", unit="structure", file=sys.stderr,
                    disable=True if len(structures) < 2 else None, dynamic_ncols=True, leave=False)

    def say(line: str) -> None:
        if not args.summary:
            progress.write(line, file=sys.stdout)

    for k, atoms in structures:
        result = model.compute(atoms, committee_statistics=committee_statistics)
        energy, forces, stress = reference_labels(atoms, f"{args.structure}:{k}")
        statistics.add(result, atoms, energy, forces, stress)
        fmax = float(np.linalg.norm(result["forces"], axis=1).max()) if len(atoms) else 0.0
        say(f"structure {k}: {len(atoms)} atoms ({atoms.get_chemical_formula()})")
        say(f"  energy:        {result['energy']:.10f} eV ({result['energy'] / max(len(atoms), 1):.10f} eV/atom)")
        if energy is not None:
            say(f"  reference:     {energy:.10f} eV (error {result['energy'] - energy:+.6f} eV)")
        say(f"  max |force|:   {fmax:.6f} eV/Ang")
        if forces is not None and len(atoms):
            say(f"  force error:   max {float(np.abs(result['forces'] - forces).max()):.6f} eV/Ang (per component)")
        if "stress" in result:
            gpa = result["stress"] * _GPA
            say("  stress (GPa):  " + " ".join(f"{s:.6f}" for s in gpa) + "  (xx yy zz yz xz xy)")
        if "extrapolation_counts" in result and result["extrapolation_counts"].any():
            counts = result["extrapolation_counts"]
            say(f"  extrapolation: {int((counts > 0).sum())} atoms outside the training range "
                f"({int(counts.sum())} descriptor values)")
        if "energy_std" in result:
            say(f"  committee:     energy std {result['energy_std']:.6f} eV, "
                f"max force deviation {float(result['forces_std'].max()):.6f} eV/Ang")
        progress.update(1)
    progress.close()
    for line in statistics.lines():
        print(line)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="energy, forces and stress of structures in any file ASE reads or n2p2 input.data, and their "
        "errors against the file's reference labels"
    )
    p.add_argument("model")
    p.add_argument("structure")
    p.add_argument("--index", default=":", help="which structures of the file (ASE index syntax: 3, -1, 0:10, ::2; "
                   "default all)")
    p.add_argument("--format", default=None,
                   help="file format: 'n2p2' (input.data, detected automatically) or any ASE format name")
    p.add_argument("--summary", action="store_true", help="print only the error summary, not each structure")
    p.add_argument("--committee-statistics", action="store_true",
                   help="for committee models, also print each structure's energy spread and largest per-atom force "
                   "deviation (costs the members' forces: one backward pass per member, one in all for ANI)")
    p.set_defaults(func=_eval)
