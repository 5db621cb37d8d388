"""A small message-passing network (continuous-filter convolutions, as in SchNet)
with two interaction layers: information travels n_layers x cutoff, which the
engines must honour (ghost shell in LAMMPS). It exists to exercise the model
contract for message-passing models, not to compete with NequIP or MACE.
"""


import math
from dataclasses import dataclass
from typing import List, Sequence

import torch


class _Interaction(torch.nn.Module):
    def __init__(self, features: int, n_basis: int) -> None:
        super().__init__()
        self.filter = torch.nn.Sequential(
            torch.nn.Linear(n_basis, features), torch.nn.SiLU(), torch.nn.Linear(features, features)
        )
        self.update = torch.nn.Sequential(
            torch.nn.Linear(features, features), torch.nn.SiLU(), torch.nn.Linear(features, features)
        )

    def forward(
        self, h: torch.Tensor, basis: torch.Tensor, envelope: torch.Tensor, centre: torch.Tensor, neighbour: torch.Tensor
    ) -> torch.Tensor:
        w = self.filter(basis) * envelope.unsqueeze(1)
        messages = h.index_select(0, neighbour) * w
        aggregated = torch.zeros_like(h).index_add(0, centre, messages)
        return h + self.update(aggregated)


@dataclass(frozen=True)
class MessagePassingSizes:
    """The architecture's sizes: ``n_layers`` interaction layers (the model sees
    ``n_layers x cutoff``), ``features`` channels per atom, filters on ``n_basis``
    radial Gaussians."""

    n_layers: int = 2
    features: int = 16
    n_basis: int = 12


class MessagePassingModel(torch.nn.Module):
    """Element embeddings refined by ``n_layers`` interaction layers, then a
    per-atom readout plus per-element energy offsets."""

    model_type: str = "message_passing"
    species: List[str]
    cutoff: float
    n_layers: int
    interaction_range: float
    committee_size: int
    gamma: float

    def __init__(
        self,
        species: Sequence[str],
        cutoff: float,
        sizes: MessagePassingSizes = MessagePassingSizes(),
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        n_layers, features, n_basis = sizes.n_layers, sizes.features, sizes.n_basis
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.n_layers = int(n_layers)
        self.interaction_range = float(cutoff) * n_layers
        self.committee_size = 1
        self.embedding = torch.nn.Parameter(torch.randn(len(self.species), features) / math.sqrt(features))
        self.register_buffer("centres", torch.linspace(0.0, cutoff, n_basis))
        self.gamma = float((n_basis / cutoff) ** 2)
        self.interactions = torch.nn.ModuleList([_Interaction(features, n_basis) for _ in range(n_layers)])
        self.readout = torch.nn.Sequential(torch.nn.Linear(features, features), torch.nn.SiLU(), torch.nn.Linear(features, 1))
        self.register_buffer("energy_offset", torch.zeros(len(self.species)))
        self.to(dtype)

    def describe(self) -> dict:
        return {
            "descriptor": "learned (continuous-filter convolutions)",
            "interaction_layers": self.n_layers,
            "features": int(self.embedding.shape[1]),
        }

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        centre, neighbour = edge_index[0], edge_index[1]
        r = torch.sqrt((edge_vectors * edge_vectors).sum(1))
        # Smooth to second order at the cutoff: forces stay continuous.
        x = torch.clamp(r / self.cutoff, max=1.0)
        envelope = 0.5 * (torch.cos(math.pi * x) + 1.0) * (r < self.cutoff).to(r.dtype)
        basis = torch.exp(-self.gamma * (r.unsqueeze(1) - self.centres) ** 2)
        h = self.embedding.index_select(0, species)
        for layer in self.interactions:
            h = layer(h, basis, envelope, centre, neighbour)
        return self.readout(h).squeeze(1) + self.energy_offset.index_select(0, species)
