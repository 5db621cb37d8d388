"""A DEMONSTRATION model for the OpenMM examples: random weights, NOT a physical potential.

It has the shape of a real H/C/N/O Behler-Parrinello committee (symmetry
functions, per-element networks, two members) so that the examples exercise
everything a real model does and time it fairly, but its energies mean nothing:
molecules are not held together by it. Pass ``--model`` to the examples to use a
real model file (for instance an ANI model converted with nnpkit) instead.
"""

from __future__ import annotations

import os

import torch

import nnpkit
from nnpkit.models import BehlerParrinelloModel, SymmetryFunctionSet

SPECIES = ("H", "C", "N", "O")


def demonstration_model(path: str | os.PathLike[str], cutoff: float = 4.0, seed: int = 0) -> str:
    """Write the demonstration model (Angstrom, eV) to ``path`` and return the path."""
    torch.manual_seed(seed)
    functions = SymmetryFunctionSet.standard(list(SPECIES), cutoff, n_radial=5)
    model = BehlerParrinelloModel(functions, hidden=(16, 16), committee_size=2, dtype=torch.float64)
    with torch.no_grad():
        for p in model.networks.parameters():
            p.mul_(0.3)  # small weights: gentle forces, so short demonstration runs stay tame
    return nnpkit.export(model, path, extra_metadata={"note": "demonstration model with random weights; not physical"})
