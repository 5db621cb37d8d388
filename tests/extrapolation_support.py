"""A model file as written before ``forward_with_extrapolation`` existed, to test and
time the model runner's separate extrapolation pass (tests and bench/)."""

from __future__ import annotations

import os

import torch

import nnpkit


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
