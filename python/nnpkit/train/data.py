"""Reference data for training: reading, checking, and tensors per structure.

Each structure's neighbour list is built once (``nnpkit._core.neighbor_list``);
its edge vectors are the model's differentiable input, so positions are never
needed during training. Structures are batched by concatenation (a disjoint
union of graphs) with per-atom and per-edge structure indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import _core

_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


@dataclass
class Structure:
    """One labelled structure, ready for the model (model-order species)."""

    species: torch.Tensor  # [N] int64
    edge_index: torch.Tensor  # [2, E] int64
    edge_vectors: torch.Tensor  # [E, 3]
    energy: float  # eV
    forces: torch.Tensor | None  # [N, 3] eV/Angstrom
    stress: torch.Tensor | None  # [3, 3] eV/Angstrom^3 (ASE sign: -virial / volume)
    volume: float  # Angstrom^3, 0 when not periodic in all directions
    source: str  # "file:index", for messages

    @property
    def n_atoms(self) -> int:
        return int(self.species.shape[0])


@dataclass
class DataSets:
    """All structures of a run, and which of them play which role."""

    structures: list[Structure]
    species: list[str]
    pool: list[int]  # data.train: split into training and validation per member
    validation: list[int]  # data.validation files (empty: split from the pool)
    test: list[int]


@dataclass
class Batch:
    """Several structures as one graph."""

    species: torch.Tensor
    edge_index: torch.Tensor
    edge_vectors: torch.Tensor
    atom_structure: torch.Tensor  # [N] structure of each atom
    edge_structure: torch.Tensor  # [E]
    n_atoms: torch.Tensor  # [S]
    energy: torch.Tensor  # [S]
    forces: torch.Tensor | None  # [N, 3]
    stress: torch.Tensor | None  # [S, 3, 3]
    volume: torch.Tensor  # [S]
    indices: list[int]  # positions in the data set

    @property
    def n_structures(self) -> int:
        return int(self.n_atoms.shape[0])


def collate(structures: Sequence[Structure], indices: Sequence[int] | None = None) -> Batch:
    """Concatenate structures into one :class:`Batch`."""
    offsets = np.cumsum([0] + [s.n_atoms for s in structures])
    edge_index = torch.cat([s.edge_index + int(o) for s, o in zip(structures, offsets)], dim=1)
    with_forces = all(s.forces is not None for s in structures)
    with_stress = all(s.stress is not None for s in structures)
    return Batch(
        species=torch.cat([s.species for s in structures]),
        edge_index=edge_index,
        edge_vectors=torch.cat([s.edge_vectors for s in structures]),
        atom_structure=torch.cat([torch.full((s.n_atoms,), k, dtype=torch.int64) for k, s in enumerate(structures)]),
        edge_structure=torch.cat(
            [torch.full((s.edge_index.shape[1],), k, dtype=torch.int64) for k, s in enumerate(structures)]
        ),
        n_atoms=torch.tensor([s.n_atoms for s in structures], dtype=torch.int64),
        energy=torch.tensor([s.energy for s in structures], dtype=structures[0].edge_vectors.dtype),
        forces=torch.cat([s.forces for s in structures]) if with_forces else None,
        stress=torch.stack([s.stress for s in structures]) if with_stress else None,
        volume=torch.tensor([s.volume for s in structures], dtype=structures[0].edge_vectors.dtype),
        indices=list(indices) if indices is not None else list(range(len(structures))),
    )


def reference_labels(atoms, source: str) -> tuple[float | None, np.ndarray | None, np.ndarray | None]:
    """Reference energy (eV), forces ([N, 3], eV/Angstrom) and stress (3x3, eV/Angstrom^3)
    of an ``ase.Atoms`` from its calculator's results or its info/arrays; None where absent."""
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    energy = results.get("energy", atoms.info.get("energy"))
    forces = results.get("forces", atoms.arrays.get("forces"))
    stress = results.get("stress", atoms.info.get("stress"))
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape == (6,):
            full = np.zeros((3, 3))
            for v, (a, b) in enumerate(_VOIGT):
                full[a, b] = full[b, a] = stress[v]
            stress = full
        elif stress.shape != (3, 3):
            raise ValueError(f"{source}: stress must have 6 (Voigt) or 3x3 components, got shape {stress.shape}")
    return (
        None if energy is None else float(energy),
        None if forces is None else np.asarray(forces, dtype=np.float64),
        stress,
    )


def atoms_to_structure(
    atoms,
    species: Sequence[str],
    cutoff: float,
    dtype: torch.dtype = torch.float64,
    source: str = "structure",
    length_scale: float = 1.0,
    energy_scale: float = 1.0,
    require_energy: bool = True,
) -> Structure:
    """Convert one labelled ``ase.Atoms`` (units scaled to Angstrom and eV)."""
    index = {s: i for i, s in enumerate(species)}
    symbols = atoms.get_chemical_symbols()
    if len(symbols) == 0:
        raise ValueError(f"{source}: structure without atoms")
    unknown = sorted(set(symbols) - set(index))
    if unknown:
        raise ValueError(f"{source}: element(s) {unknown} not among the model's species {list(species)}")
    energy, forces, stress = reference_labels(atoms, source)
    if energy is None and require_energy:
        raise ValueError(f"{source}: no reference energy (need atoms.calc results or info['energy'])")
    if forces is not None and forces.shape != (len(atoms), 3):
        raise ValueError(f"{source}: forces have shape {forces.shape}, expected ({len(atoms)}, 3)")
    positions = atoms.get_positions() * length_scale
    cell = atoms.cell.array * length_scale
    pbc = [bool(p) for p in atoms.pbc]
    edge_index, _, vectors = _core.neighbor_list(positions, cell, pbc, float(cutoff))
    volume = abs(float(np.linalg.det(cell))) if all(pbc) else 0.0
    force_scale = energy_scale / length_scale
    return Structure(
        species=torch.tensor([index[s] for s in symbols], dtype=torch.int64),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)),
        edge_vectors=torch.from_numpy(vectors).to(dtype),
        energy=(energy or 0.0) * energy_scale,
        forces=None if forces is None else torch.from_numpy(forces * force_scale).to(dtype),
        stress=None if stress is None else torch.from_numpy(stress * energy_scale / length_scale**3).to(dtype),
        volume=volume,
        source=source,
    )


def species_in(structures: Sequence) -> list[str]:
    """Elements present in ``ase.Atoms`` structures, ordered by atomic number."""
    from ase.data import atomic_numbers

    present = {s for atoms in structures for s in atoms.get_chemical_symbols()}
    return sorted(present, key=lambda s: atomic_numbers[s])


def composition_matrix(structures: Sequence[Structure], n_species: int) -> np.ndarray:
    """Counts of each element per structure, [S, n_species]."""
    return np.stack([np.bincount(s.species.numpy(), minlength=n_species) for s in structures]).astype(np.float64)


def fit_energy_offsets(structures: Sequence[Structure], n_species: int) -> np.ndarray:
    """Per-element energies that best explain the total energies (least squares on
    composition). Elements whose counts are collinear get the minimum-norm solution."""
    counts = composition_matrix(structures, n_species)
    energies = np.array([s.energy for s in structures])
    offsets, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return offsets


def check_labels(structures: Sequence[Structure], need_forces: bool, need_stress: bool, what: str) -> None:
    """Fail at the start, naming the first structure without a label the loss needs."""
    if not structures:
        raise ValueError(f"the {what} set is empty")
    for s in structures:
        if need_forces and s.forces is None:
            raise ValueError(
                f"{s.source}: no reference forces, but the loss uses forces (loss.force_weight > 0); "
                "add forces to the data or set force_weight: 0"
            )
        if need_stress and s.stress is None:
            raise ValueError(
                f"{s.source}: no reference stress, but the loss uses stress (loss.stress_weight > 0); "
                "add stresses or set stress_weight: 0"
            )
        if need_stress and s.volume == 0.0:
            raise ValueError(f"{s.source}: stress training needs structures periodic in all three directions")
