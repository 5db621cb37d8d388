"""Extrapolation test helpers: structures inside and outside a training range, fitting
a BP model's range without training, and a model file as written before
``forward_with_extrapolation`` existed (to test and time the model runner's separate
extrapolation pass; tests and bench/)."""

from __future__ import annotations

import os

import numpy as np
import torch

import nnpkit
from nnpkit import _core


class SeparateExtrapolationModel(torch.nn.Module):
    """``forward`` plus a separate ``extrapolation_counts`` (a second descriptor
    pass), delegating both to ``inner``; no fused method."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        return self.inner(species, edge_index, edge_vectors, n_local)

    @torch.jit.export
    def extrapolation_counts(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        return self.inner.extrapolation_counts(species, edge_index, edge_vectors, n_local)


def export_separate(model: nnpkit.Model, path: str | os.PathLike[str]) -> nnpkit.Model:
    """Re-export ``model``'s module with only the separate extrapolation method."""
    m = model.metadata
    inner = torch.jit.load(model.path)
    return nnpkit.load(nnpkit.export(
        SeparateExtrapolationModel(inner), path, species=m["species"], cutoff=m["cutoff"],
        committee_size=m["committee_size"], length_unit=m["length_unit"], energy_unit=m["energy_unit"],
    ))


def compressed(atoms, factor: float):
    """A copy with cell and positions scaled by `factor`."""
    out = atoms.copy()
    out.set_cell(atoms.cell.array * factor, scale_atoms=True)
    return out


def copper_structures(n: int, seed: int, a: float = 3.6, strain: float = 0.03, rattle: float = 0.08):
    """`n` strained and rattled 8-atom fcc copper cells."""
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=a * (1 + rng.uniform(-strain, strain)), cubic=True) * (2, 1, 1)
        atoms.rattle(rattle, seed=int(rng.integers(1 << 30)))
        out.append(atoms)
    return out


def fit_range(module, structures) -> None:
    """Fits a one-species BP module's scaling and training range to `structures` (no training)."""
    rows, species = [], []
    with torch.no_grad():
        for atoms in structures:
            edge_index, _, vectors = _core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3,
                                                         module.cutoff)
            s = torch.zeros(len(atoms), dtype=torch.int64)
            rows.append(module.descriptor(torch.from_numpy(vectors), torch.from_numpy(edge_index), s, len(atoms)))
            species.append(s)
    module.fit_scaling(torch.cat(rows), torch.cat(species))
