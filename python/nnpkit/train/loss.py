"""Predictions of a batch (energies, forces, stress) and the training loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .config import LossConfig
from .data import Batch


@dataclass
class Prediction:
    energy: torch.Tensor  # [S] eV
    forces: torch.Tensor | None  # [N, 3] eV/Angstrom
    stress: torch.Tensor | None  # [S, 3, 3] eV/Angstrom^3 (ASE sign)


def predict(evaluator: Callable, batch: Batch, need_forces: bool, need_stress: bool, create_graph: bool) -> Prediction:
    """Total energies, forces (-dE/dx scattered from dE/dr_e, r_e = x_j - x_i) and
    stress (-virial / volume, virial W = -sum_e r_e (x) dE/dr_e) of each structure."""
    need_gradients = need_forces or need_stress
    atom_energies, grad = evaluator(batch, need_gradients, create_graph)
    energy = torch.zeros(batch.n_structures, dtype=atom_energies.dtype).index_add(
        0, batch.atom_structure, atom_energies
    )
    forces = stress = None
    if need_forces:
        centre, neighbour = batch.edge_index[0], batch.edge_index[1]
        de_dx = torch.zeros(batch.species.shape[0], 3, dtype=grad.dtype)
        de_dx = de_dx.index_add(0, neighbour, grad).index_add(0, centre, -grad)
        forces = -de_dx
    if need_stress:
        per_edge = batch.edge_vectors.unsqueeze(2) * grad.unsqueeze(1)  # r (x) dE/dr
        dedr_r = torch.zeros(batch.n_structures, 3, 3, dtype=grad.dtype).index_add(0, batch.edge_structure, per_edge)
        virial = -dedr_r
        volume = torch.where(batch.volume > 0, batch.volume, torch.ones_like(batch.volume))
        stress = -virial / volume.view(-1, 1, 1)
    return Prediction(energy, forces, stress)


def loss_terms(config: LossConfig, prediction: Prediction, batch: Batch) -> dict[str, torch.Tensor]:
    """The three normalised squared-error terms (means over the batch) and their weighted sum."""
    per_atom = (prediction.energy - batch.energy) / batch.n_atoms.to(batch.energy.dtype)
    terms = {"energy": ((per_atom / config.sigma_energy) ** 2).mean()}
    total = terms["energy"]
    if config.force_weight > 0:
        terms["forces"] = (((prediction.forces - batch.forces) / config.sigma_forces) ** 2).mean()
        total = total + config.force_weight * terms["forces"]
    if config.stress_weight > 0:
        terms["stress"] = (((prediction.stress - batch.stress) / config.sigma_stress) ** 2).mean()
        total = total + config.stress_weight * terms["stress"]
    terms["total"] = total
    return terms
