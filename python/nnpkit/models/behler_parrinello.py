"""Behler-Parrinello high-dimensional neural network potential.

One multilayer perceptron per element maps the scaled symmetry functions of an
atom to its energy; the total energy is the sum over atoms. A committee holds
M independent sets of networks over the same descriptors, so the symmetry
functions are computed once for all members.
"""


from typing import List, Sequence

import torch

from .symmetry_functions import SymmetryFunctions, SymmetryFunctionSet

_ACTIVATIONS = {
    "tanh": torch.nn.Tanh,
    "softplus": torch.nn.Softplus,
    "silu": torch.nn.SiLU,
    "celu": torch.nn.CELU,
    "gelu": torch.nn.GELU,
}


def mlp(n_in: int, hidden: Sequence[int], activation: str) -> torch.nn.Sequential:
    """Fully connected network n_in -> hidden... -> 1."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation '{activation}' (known: {', '.join(_ACTIVATIONS)})")
    layers: list[torch.nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), _ACTIVATIONS[activation]()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


class BehlerParrinelloModel(torch.nn.Module):
    """Per-element networks over scaled symmetry functions, with per-element offsets.

    The scaled input of element e is ``G * scale[e] + shift[e]`` (set from data
    with :meth:`fit_scaling`, or from n2p2's scaling.data by the converter); the
    atomic energy is ``network_e(scaled G) + energy_offset[e]``.
    """

    model_type: str = "behler_parrinello"
    species: List[str]
    cutoff: float
    interaction_range: float
    committee_size: int
    n_per_element: List[int]
    hidden: List[int]
    activation: str

    def __init__(
        self,
        sf_set: SymmetryFunctionSet,
        hidden: Sequence[int] = (16, 16),
        activation: str = "tanh",
        committee_size: int = 1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.species = list(sf_set.species)
        self.cutoff = float(sf_set.cutoff)
        self.interaction_range = float(sf_set.cutoff)
        self.committee_size = int(committee_size)
        self.n_per_element = list(sf_set.n_per_element)
        self.hidden = list(hidden)
        self.activation = activation
        n_el, n_col = len(self.species), sf_set.n_columns
        self.descriptor = SymmetryFunctions(sf_set)
        self.register_buffer("scale", torch.ones(n_el, n_col))
        self.register_buffer("shift", torch.zeros(n_el, n_col))
        self.register_buffer("energy_offset", torch.zeros(n_el))
        self.networks = torch.nn.ModuleList(
            [
                torch.nn.ModuleList([mlp(n, hidden, activation) for n in self.n_per_element])
                for _ in range(self.committee_size)
            ]
        )
        self.to(dtype)

    def describe(self) -> dict:
        return {
            "descriptor": "behler-parrinello symmetry functions",
            "descriptors_per_element": dict(zip(self.species, self.n_per_element)),
            "hidden_layers": self.hidden,
            "activation": self.activation,
        }

    @torch.jit.unused
    def fit_scaling(self, descriptors: torch.Tensor, species: torch.Tensor) -> None:
        """Scale each symmetry function of each element to [-1, 1] over the given
        descriptor rows (n2p2's ``scale_symmetry_functions`` with range -1..1)."""
        with torch.no_grad():
            for e in range(len(self.species)):
                rows = descriptors[species == e][:, : self.n_per_element[e]]
                if rows.shape[0] == 0:
                    continue
                lo, hi = rows.min(0).values, rows.max(0).values
                width = torch.where(hi - lo > 1e-12, hi - lo, torch.ones_like(hi))
                n = self.n_per_element[e]
                self.scale[e, :n] = 2.0 / width
                self.shift[e, :n] = -1.0 - 2.0 * lo / width

    def atomic_energies(self, descriptors: torch.Tensor, species: torch.Tensor, n_atoms: int) -> torch.Tensor:
        """Per-atom energies [M, n_atoms] from descriptors of the first rows of ``species``."""
        n_centers = descriptors.shape[0]
        centre_species = species[:n_centers]
        x = descriptors * self.scale[centre_species] + self.shift[centre_species]
        members: list[torch.Tensor] = []
        for member in self.networks:
            energies = torch.zeros(n_atoms, dtype=descriptors.dtype, device=descriptors.device)
            for e, network in enumerate(member):
                idx = torch.nonzero(centre_species == e).squeeze(1)
                if idx.numel() > 0:
                    xe = x.index_select(0, idx)[:, : self.n_per_element[e]]
                    energies = energies.index_add(0, idx, network(xe).squeeze(1) + self.energy_offset[e])
            members.append(energies)
        return torch.stack(members)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        descriptors = self.descriptor(edge_vectors, edge_index, species, n_local)
        energies = self.atomic_energies(descriptors, species, species.shape[0])
        if self.committee_size == 1:
            return energies[0]
        return energies
