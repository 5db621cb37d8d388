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
    """Total energies, forces (-dE/dx) and stress (-virial / volume, ASE's sign) of each
    structure; ``create_graph`` keeps them differentiable in the parameters."""
    atom_energies, de_dx, virial = evaluator(batch, need_forces, need_stress, create_graph)
    energy = torch.zeros(batch.n_structures, dtype=atom_energies.dtype).index_add(
        0, batch.atom_structure, atom_energies
    )
    forces = -de_dx if need_forces else None
    stress = None
    if need_stress:
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
