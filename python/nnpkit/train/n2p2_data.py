"""A minimal reader of n2p2's ``input.data`` training-set format.

Each structure is a block::

    begin
    comment free text
    lattice ax ay az        (0 or 3 lines; 3 lines make the structure periodic)
    atom x y z element charge atomic_energy fx fy fz
    energy E
    charge Q
    end

Numbers are returned as read (the file's own units); the caller converts.
"""

from __future__ import annotations

import os

import numpy as np


def read_n2p2_data(path: str | os.PathLike[str]) -> list:
    """Structures of an n2p2 ``input.data`` file as ``ase.Atoms`` with a
    SinglePointCalculator holding the energy and forces."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    structures: list = []
    block: dict | None = None
    with open(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            words = line.split()
            if not words:
                continue
            key = words[0].lower()
            where = f"{os.fspath(path)}:{line_number}"
            if key == "begin":
                if block is not None:
                    raise ValueError(f"{where}: 'begin' inside an open structure (missing 'end')")
                block = {"lattice": [], "positions": [], "symbols": [], "forces": [], "energy": None}
                continue
            if block is None:
                raise ValueError(f"{where}: '{words[0]}' outside a begin/end block")
            try:
                if key == "lattice":
                    block["lattice"].append([float(w) for w in words[1:4]])
                elif key == "atom":
                    block["positions"].append([float(w) for w in words[1:4]])
                    block["symbols"].append(words[4])
                    block["forces"].append([float(w) for w in words[7:10]])
                elif key == "energy":
                    block["energy"] = float(words[1])
                elif key == "end":
                    structures.append(_to_atoms(block, where, Atoms, SinglePointCalculator))
                    block = None
            except (IndexError, ValueError) as error:
                raise ValueError(f"{where}: cannot parse '{line.strip()}' ({error})") from None
    if block is not None:
        raise ValueError(f"{os.fspath(path)}: last structure has no 'end'")
    return structures


def _to_atoms(block: dict, where: str, Atoms, SinglePointCalculator):
    n_lattice = len(block["lattice"])
    if n_lattice not in (0, 3):
        raise ValueError(f"{where}: a structure needs 0 or 3 'lattice' lines, found {n_lattice}")
    if not block["positions"]:
        raise ValueError(f"{where}: structure without atoms")
    periodic = n_lattice == 3
    atoms = Atoms(
        symbols=block["symbols"],
        positions=np.array(block["positions"]),
        cell=np.array(block["lattice"]) if periodic else None,
        pbc=periodic,
    )
    results = {"forces": np.array(block["forces"])}
    if block["energy"] is not None:
        results["energy"] = block["energy"]
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms
