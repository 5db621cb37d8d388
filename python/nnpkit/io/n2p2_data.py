"""Reading and writing n2p2's structure files (``input.data``, ``output.data``).

Each structure is a block::

    begin
    comment <text>
    lattice <ax> <ay> <az>          (three lines, periodic structures only)
    atom <x> <y> <z> <element> <charge> <energy> <fx> <fy> <fz>
    energy <E>
    charge <Q>
    end

n2p2 files carry no units. ``read_n2p2_data`` converts from the units given
(default Angstrom and eV) to ASE's Angstrom and eV.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np


class N2p2DataError(ValueError):
    """A malformed n2p2 structure file."""


def _unit_factors(length_unit: str, energy_unit: str) -> tuple[float, float]:
    from .. import _core

    return _core.length_unit_in_angstrom(length_unit), _core.energy_unit_in_ev(energy_unit)


def is_n2p2_data(path: str | os.PathLike[str]) -> bool:
    """Whether the file looks like n2p2 structure data (its first word is 'begin')."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return line.split()[0] == "begin"
    except OSError:
        return False
    return False


def iread_n2p2_data(path: str | os.PathLike[str], length_unit: str = "Ang", energy_unit: str = "eV") -> Iterator:
    """Yield the structures of an n2p2 data file as ``ase.Atoms``.

    Reference energy and forces (when not all zero) are attached as a
    SinglePointCalculator; per-atom charges become initial charges; the comment
    goes to ``atoms.info['comment']``.
    """
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    to_ang, to_ev = _unit_factors(length_unit, energy_unit)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"structure file not found: {path}")
    block: dict | None = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            tokens = raw.split()
            if not tokens:
                continue
            key, where = tokens[0], f"{path}:{number}"
            if key == "begin":
                if block is not None:
                    raise N2p2DataError(f"{where}: 'begin' inside a structure (missing 'end' before it)")
                block = {"lattice": [], "atoms": [], "comment": [], "energy": None, "charge": None}
                continue
            if block is None:
                raise N2p2DataError(f"{where}: '{key}' outside a begin ... end block")
            try:
                if key == "comment":
                    block["comment"].append(raw.strip()[len("comment"):].strip())
                elif key == "lattice":
                    block["lattice"].append([float(t) for t in tokens[1:4]])
                elif key == "atom":
                    if len(tokens) < 10:
                        raise N2p2DataError(f"{where}: 'atom' needs x y z element charge energy fx fy fz")
                    block["atoms"].append((tokens[4], [float(t) for t in tokens[1:4]], float(tokens[5]),
                                           [float(t) for t in tokens[7:10]]))
                elif key == "energy":
                    block["energy"] = float(tokens[1])
                elif key == "charge":
                    block["charge"] = float(tokens[1])
                elif key == "end":
                    yield _to_atoms(block, where, to_ang, to_ev, Atoms, SinglePointCalculator)
                    block = None
                else:
                    raise N2p2DataError(f"{where}: unknown line type '{key}'")
            except (ValueError, IndexError) as error:
                if isinstance(error, N2p2DataError):
                    raise
                raise N2p2DataError(f"{where}: cannot read '{raw.strip()}' ({error})") from None
    if block is not None:
        raise N2p2DataError(f"{path}: the last structure has no 'end'")


def _to_atoms(block: dict, where: str, to_ang: float, to_ev: float, Atoms, SinglePointCalculator):
    if len(block["lattice"]) not in (0, 3):
        raise N2p2DataError(f"{where}: a structure needs 0 or 3 'lattice' lines, found {len(block['lattice'])}")
    symbols = [a[0] for a in block["atoms"]]
    positions = np.array([a[1] for a in block["atoms"]], dtype=np.float64).reshape(-1, 3) * to_ang
    periodic = len(block["lattice"]) == 3
    cell = np.array(block["lattice"]) * to_ang if periodic else None
    try:
        atoms = Atoms(symbols=symbols, positions=positions, cell=cell, pbc=periodic)
    except (KeyError, ValueError) as error:
        raise N2p2DataError(f"{where}: {error}") from None
    atoms.set_initial_charges([a[2] for a in block["atoms"]])
    if block["comment"]:
        atoms.info["comment"] = " ".join(block["comment"])
    forces = np.array([a[3] for a in block["atoms"]], dtype=np.float64).reshape(-1, 3) * (to_ev / to_ang)
    if block["energy"] is not None or np.any(forces):
        energy = block["energy"] * to_ev if block["energy"] is not None else None
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
    return atoms


def read_n2p2_data(path: str | os.PathLike[str], length_unit: str = "Ang", energy_unit: str = "eV") -> list:
    """All structures of an n2p2 data file (see :func:`iread_n2p2_data`)."""
    return list(iread_n2p2_data(path, length_unit, energy_unit))


def write_n2p2_data(path: str | os.PathLike[str], structures: Iterable, length_unit: str = "Ang",
                    energy_unit: str = "eV") -> None:
    """Write ``ase.Atoms`` in n2p2's format, converting from ASE units to the units given.

    Energies and forces are taken from an attached calculator's results when present
    (zero otherwise); charges from the initial charges.
    """
    to_ang, to_ev = _unit_factors(length_unit, energy_unit)
    with open(path, "w", encoding="utf-8") as out:
        for atoms in structures:
            results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
            energy = float(results.get("energy", 0.0)) / to_ev
            forces = np.asarray(results.get("forces", np.zeros((len(atoms), 3)))) / (to_ev / to_ang)
            charges = atoms.get_initial_charges()
            out.write("begin\n")
            if "comment" in atoms.info:
                out.write(f"comment {atoms.info['comment']}\n")
            if atoms.pbc.any():
                if not atoms.pbc.all():
                    raise N2p2DataError("n2p2 structures are either periodic in all directions or not at all")
                for vector in atoms.cell.array / to_ang:
                    out.write("lattice {:.12f} {:.12f} {:.12f}\n".format(*vector))
            for symbol, position, charge, force in zip(atoms.get_chemical_symbols(), atoms.positions / to_ang,
                                                       charges, forces):
                out.write("atom {:.12f} {:.12f} {:.12f} {} {:.12g} 0.0 {:.12e} {:.12e} {:.12e}\n".format(
                    *position, symbol, charge, *force))
            out.write(f"energy {energy:.12e}\n")
            out.write(f"charge {float(np.sum(charges)):.12g}\n")
            out.write("end\n")
