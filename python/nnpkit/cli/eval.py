"""`nnpkit eval MODEL STRUCTURE`: energy, max force and stress of structures, and the
errors against the reference labels the file carries (as DeePMD-kit's `dp test`)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

def read_structures(path: str, index: str, file_format: str | None = None, model: Any = None) -> list[tuple[int, Any]]:
    """``(position in the file, ase.Atoms)`` of the structures ``index`` selects
    (:func:`nnpkit.io.read_structures`); n2p2 files are read in the model's units."""
    from ..io import read_structures as read, reads_as_n2p2

    # n2p2 files carry no units: they are in the units the potential was trained in.
    units = ("Ang", "eV") if model is None else (model.metadata["length_unit"], model.metadata["energy_unit"])
    if os.path.isfile(path) and reads_as_n2p2(path, file_format):
        print(f"reading {path} as n2p2 structure data in {units[0]} and {units[1]}")
    return read(path, index, file_format, n2p2_units=units, index_name="--index", format_name="--format")


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
            from ase.units import GPa

            reference = np.array([stress[a, b] for a, b in ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))])
            self.stress.append((result["stress"] - reference) / GPa)

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


@dataclass
class CommitteeSpread:
    """The committee's spread over the structures: the largest energy deviation and
    per-atom force deviation (DeePMD-kit's max_devi_f), and where they were."""

    n_structures: int = 0
    energy_std_sum: float = 0.0
    max_energy: float = -1.0
    max_energy_at: int = -1
    max_force: float = -1.0
    max_force_at: tuple[int, int] = (-1, -1)  # (structure, atom)

    def add(self, structure: int, result: dict[str, Any]) -> None:
        self.n_structures += 1
        std = float(result["energy_std"])
        self.energy_std_sum += std
        if std > self.max_energy:
            self.max_energy, self.max_energy_at = std, structure
        deviation = np.asarray(result.get("forces_std", []))
        if deviation.size == 0:
            return
        atom = int(deviation.argmax())
        if float(deviation[atom]) > self.max_force:
            self.max_force, self.max_force_at = float(deviation[atom]), (structure, atom)

    def lines(self) -> list[str]:
        if self.n_structures == 0:
            return []
        out = [f"committee spread ({self.n_structures} structures):",
               f"  energy std         mean {self.energy_std_sum / self.n_structures:.6e}  max {self.max_energy:.6e}  "
               f"eV (structure {self.max_energy_at})"]
        if self.max_force >= 0:
            structure, atom = self.max_force_at
            out.append(f"  force deviation    max {self.max_force:.6e}  eV/Ang (structure {structure}, atom {atom})")
        return out


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..model import load
    from ..train.data import reference_labels

    model = load(args.model)
    if args.committee_statistics and model.committee_size == 1:
        print(f"--committee-statistics: model {args.model} is not a committee; there is no spread to print",
              file=sys.stderr)
    # On by default for committees: one backward pass gives every member's forces for
    # models with forward_members (ANI, Behler-Parrinello), 1.1-1.5x the mean's cost,
    # and the spread is what flags structures the committee disagrees on.
    committee_statistics = args.committee_statistics is not False and model.committee_size > 1
    structures = read_structures(args.structure, args.index, args.format, model)
    statistics = ErrorStatistics()
    spread = CommitteeSpread()
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
            from ase.units import GPa

            gpa = result["stress"] / GPa
            say("  stress (GPa):  " + " ".join(f"{s:.6f}" for s in gpa) + "  (xx yy zz yz xz xy)")
        if "extrapolation_counts" in result and result["extrapolation_counts"].any():
            counts = result["extrapolation_counts"]
            say(f"  extrapolation: {int((counts > 0).sum())} atoms outside the training range "
                f"({int(counts.sum())} descriptor values)")
        if "energy_std" in result:
            spread.add(k, result)
            say(f"  committee:     energy std {result['energy_std']:.6f} eV, "
                f"max force deviation {float(result['forces_std'].max()):.6f} eV/Ang")
        progress.update(1)
    progress.close()
    for line in statistics.lines() + spread.lines():
        print(line)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="energy, forces and stress of structures in any file ASE reads or n2p2 input.data, and their "
        "errors against the file's reference labels"
    )
    p.add_argument("model")
    p.add_argument("structure")
    p.add_argument("--index", default=":", help="which structures of the file, in ASE's index syntax for every "
                   "format, n2p2 too: 3 (the fourth), -1 (the last), 0:10, ::2; default all")
    p.add_argument("--format", default=None,
                   help="file format: 'n2p2' (input.data, detected automatically) or any ASE format name")
    p.add_argument("--summary", action="store_true", help="print only the error summary, not each structure")
    p.add_argument("--committee-statistics", action=argparse.BooleanOptionalAction, default=None,
                   help="for committee models (on by default), print each structure's energy spread and largest "
                   "per-atom force deviation, and the largest over all structures; --no-committee-statistics "
                   "prints the mean only (the members' forces cost one backward pass in all for ANI and "
                   "Behler-Parrinello models, one per member for others)")
    p.set_defaults(func=_eval)
