"""Behler-Parrinello high-dimensional neural network potential.

One multilayer perceptron per element maps the scaled symmetry functions of an
atom to its energy; the total energy is the sum over atoms. A committee holds
M independent sets of networks over the same descriptors, so the symmetry
functions are computed once for all members. The training range of every
symmetry function (set by :meth:`BehlerParrinelloModel.fit_scaling`) is kept, so
the model can flag atoms whose descriptors lie outside it.
"""


from typing import List, Sequence, Tuple

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


def outside_training_range(
    descriptors: torch.Tensor, species: torch.Tensor, g_min: torch.Tensor, g_max: torch.Tensor
) -> torch.Tensor:
    """Per descriptor row: how many values lie outside the training range of the
    row's element (``g_min[species]``, ``g_max[species]``), [rows] int64. The
    descriptors are detached: counting needs no gradient."""
    g = descriptors.detach()
    s = species[: g.shape[0]]
    return ((g < g_min[s]) | (g > g_max[s])).sum(1)


class BehlerParrinelloModel(torch.nn.Module):
    """Per-element networks over scaled symmetry functions, with per-element offsets.

    The scaled input of element e is ``G * scale[e] + shift[e]`` (set from data
    with :meth:`fit_scaling`, or from n2p2's scaling.data by the converter); the
    atomic energy is ``network_e(scaled G) + energy_offset[e]``.

    ``g_min[e]`` / ``g_max[e]`` hold the training range of element e's symmetry
    functions; -inf / +inf (the default) means "no range known", so a model built
    by hand never flags extrapolation.
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
        self.register_buffer("g_min", torch.full((n_el, n_col), -float("inf")))
        self.register_buffer("g_max", torch.full((n_el, n_col), float("inf")))
        self.networks = torch.nn.ModuleList(
            [
                torch.nn.ModuleList([mlp(n, hidden, activation) for n in self.n_per_element])
                for _ in range(self.committee_size)
            ]
        )
        self.to(dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # State dicts (training checkpoints) saved before models kept a training range:
        # load them with the range unknown instead of refusing them.
        for name in ("g_min", "g_max"):
            if prefix + name not in state_dict:
                state_dict[prefix + name] = getattr(self, name).detach().clone()
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
    def has_training_range(self) -> bool:
        """Whether any symmetry function has a known training range."""
        return bool(torch.isfinite(self.g_min).any() or torch.isfinite(self.g_max).any())

    @torch.jit.unused
    def fit_scaling(self, descriptors: torch.Tensor, species: torch.Tensor, training_range: bool = True) -> None:
        """Scale each symmetry function of each element to [-1, 1] over the given
        descriptor rows (n2p2's ``scale_symmetry_functions`` with range -1..1).

        With ``training_range`` (the default) the rows' minimum and maximum also
        become the training range ``g_min`` / ``g_max`` that
        :meth:`extrapolation_counts` checks against; elements without rows keep
        an unknown range."""
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
                    self.g_min[e, :n] = lo
                    self.g_max[e, :n] = hi

    def atomic_energies(self, descriptors: torch.Tensor, species: torch.Tensor, n_atoms: int) -> torch.Tensor:
        """Per-atom energies [M, n_atoms] from descriptors of the first rows of ``species``
        ([n, C], or one copy per member [M, n, C]: member m reads copy m)."""
        n_centers = descriptors.shape[-2]
        centre_species = species[:n_centers]
        x = descriptors * self.scale[centre_species] + self.shift[centre_species]
        members: list[torch.Tensor] = []
        for m, member in enumerate(self.networks):
            xm = x[m] if x.dim() == 3 else x
            energies = torch.zeros(n_atoms, dtype=descriptors.dtype, device=descriptors.device)
            for e, network in enumerate(member):
                idx = torch.nonzero(centre_species == e).squeeze(1)
                if idx.numel() > 0:
                    xe = xm.index_select(0, idx)[:, : self.n_per_element[e]]
                    energies = energies.index_add(0, idx, network(xe).squeeze(1) + self.energy_offset[e])
            members.append(energies)
        return torch.stack(members)

    def _contract_energies(self, descriptors: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Per-atom energies as the model contract wants them: [N], or [M, N] for a committee."""
        energies = self.atomic_energies(descriptors, species, species.shape[0])
        if self.committee_size == 1:
            return energies[0]
        return energies

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        descriptors = self.descriptor(edge_vectors, edge_index, species, n_local)
        return self._contract_energies(descriptors, species)

    @torch.jit.export
    def forward_with_extrapolation(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``forward``'s energies and :meth:`extrapolation_counts` from one descriptor computation."""
        descriptors = self.descriptor(edge_vectors, edge_index, species, n_local)
        counts = outside_training_range(descriptors, species, self.g_min, self.g_max)
        return self._contract_energies(descriptors, species), counts

    @torch.jit.export
    def forward_members(
        self,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        member_edge_vectors: torch.Tensor,
        n_local: int,
        extrapolation: bool,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every member's per-atom energies [M, N] from member copies of the edge
        vectors ``[M, E, 3]`` (equal values; member m's energies depend on copy m
        only), so that one backward pass of their sum gives each member's gradient:
        the symmetry functions are computed once and their backward contracts all
        members' gradients in one pass. With ``extrapolation`` also
        :meth:`extrapolation_counts` (else an empty tensor). The engines call this
        for committee statistics (docs/model-contract.md)."""
        if member_edge_vectors.dim() != 3 or member_edge_vectors.shape[0] != self.committee_size:
            raise ValueError("forward_members takes one copy of the edge vectors per committee member, [M, E, 3]")
        descriptors = self.descriptor(member_edge_vectors, edge_index, species, n_local)
        counts = torch.zeros(0, dtype=torch.int64)
        if extrapolation:
            counts = outside_training_range(descriptors[0], species, self.g_min, self.g_max)
        return self.atomic_energies(descriptors, species, species.shape[0]), counts

    @torch.jit.export
    def extrapolation_counts(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Per local atom: how many of its symmetry functions lie outside the training
        range [g_min, g_max], [n_local] int64 (all zero when no range is known)."""
        descriptors = self.descriptor(edge_vectors.detach(), edge_index, species, n_local)
        return outside_training_range(descriptors, species, self.g_min, self.g_max)
