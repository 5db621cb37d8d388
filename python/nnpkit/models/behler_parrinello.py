"""Behler-Parrinello high-dimensional neural network potential.

One multilayer perceptron per element maps the scaled symmetry functions of an
atom to its energy; the total energy is the sum over atoms. A committee holds
M independent sets of networks over the same descriptors, so the symmetry
functions are computed once for all members. The training range of every
symmetry function (set by :meth:`BehlerParrinelloModel.fit_scaling`) is kept, so
the model can flag atoms whose descriptors lie outside it.
"""

from typing import List, Optional, Sequence

import torch

from .descriptor_model import DescriptorModel
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


class ElementCommittee(torch.nn.Module):
    """One element's networks of all M committee members: inputs [n, D] -> energies [M, n]
    (or member copies of the inputs [M, n, D]: member m on copy m)."""

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(list(members))

    def forward(self, inputs: torch.Tensor, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """``columns`` is always None: symmetry-function rows are full."""
        energies: List[torch.Tensor] = []
        # Member copies split by unbind, whose backward stacks the members' gradients
        # once: indexing copy m (``inputs[m]``) has a backward that fills a zero
        # [M, n, D] tensor per member, M^2 n D values (6 ms of a 1152-atom call, M = 8).
        copies: List[torch.Tensor] = inputs.unbind(0) if inputs.dim() == 3 else []
        for m, member in enumerate(self.members):
            energies.append(member(copies[m] if inputs.dim() == 3 else inputs).squeeze(1))
        return torch.stack(energies)


class BehlerParrinelloModel(DescriptorModel):
    """Per-element networks over scaled symmetry functions, with per-element offsets.

    The scaled input of element e is ``G * scale[e] + shift[e]`` (set from data
    with :meth:`fit_scaling`); the atomic energy is ``network_e(scaled G) +
    energy_offset[e]``. ``networks[e].members[m]`` is member m's network of element e.

    ``descriptor_min[e]`` / ``descriptor_max[e]`` hold the training range of element e's
    symmetry functions; -inf / +inf (the default) means "no range known", so a model
    built by hand never flags extrapolation.
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
        # Member-major creation: the same random initial weights as before the networks
        # were grouped by element.
        members = [[mlp(n, hidden, activation) for n in sf_set.n_per_element] for _ in range(int(committee_size))]
        networks = [ElementCommittee([member[e] for member in members]) for e in range(len(sf_set.species))]
        super().__init__(sf_set.species, sf_set.cutoff, sf_set.n_per_element, sf_set.n_columns, committee_size,
                         networks)
        self.hidden = list(hidden)
        self.activation = activation
        n_el, n_col = len(self.species), sf_set.n_columns
        self.descriptor = SymmetryFunctions(sf_set)
        self.register_buffer("scale", torch.ones(n_el, n_col))
        self.register_buffer("shift", torch.zeros(n_el, n_col))
        self.to(dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Before the networks were grouped by element, member m's network of element e
        # was ``networks.m.e``; it is ``networks.e.members.m`` now.
        old = prefix + "networks."
        for key in [k for k in state_dict if k.startswith(old)]:
            member, element, rest = key[len(old):].split(".", 2)
            if element != "members":
                state_dict[f"{old}{element}.members.{member}.{rest}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.jit.unused
    def describe(self) -> dict:
        described = {
            "descriptor": "behler-parrinello symmetry functions",
            "descriptors_per_element": dict(zip(self.species, self.n_per_element)),
            "hidden_layers": self.hidden,
            "activation": self.activation,
        }
        if self.has_training_range():
            described["extrapolation_check"] = "symmetry functions outside their training range [Gmin, Gmax]"
        return described

    @torch.jit.unused
    def fit_scaling(self, descriptors: torch.Tensor, species: torch.Tensor, training_range: bool = True) -> None:
        """Scale each symmetry function of each element to [-1, 1] over the given
        descriptor rows (n2p2's ``scale_symmetry_functions`` with range -1..1).

        With ``training_range`` (the default) the rows' minimum and maximum also
        become the training range that :meth:`extrapolation_counts` checks against
        (:meth:`fit_training_range`); elements without rows keep an unknown range."""
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
        if training_range:
            self.fit_training_range(descriptors, species)

    def descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Unscaled symmetry functions of the local atoms, [n_local, n_columns]."""
        return self.descriptor(edge_vectors, edge_index, species, n_local)

    def network_inputs(self, descriptors: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        centre_species = species[: descriptors.shape[-2]]
        return descriptors * self.scale[centre_species] + self.shift[centre_species]
