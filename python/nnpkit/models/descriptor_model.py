"""What every descriptor model (Behler-Parrinello, n2p2, ANI) shares.

An atom's energy is its element's network applied to its descriptor row, plus its
element's energy offset. A family supplies only its descriptors and its networks:

- :meth:`DescriptorModel.descriptors`: the full descriptor rows of the local atoms,
  and where the model evaluates fewer columns (ANI leaves out absent species),
  :meth:`DescriptorModel.local_descriptors`: those rows and which columns they hold;
- :meth:`DescriptorModel.network_inputs`: the descriptors as the networks read them
  (scaled; identity by default);
- ``networks``: one module per element (model order) mapping its atoms' network
  inputs ``[n, D]`` and those columns to energies ``[M, n]`` of the M committee members,
  and member copies of the inputs ``[M, n, D]`` to ``[M, n]`` (member m reads copy m);
- :meth:`DescriptorModel.network_output_to_energy`: the network output in the
  model's energy unit (identity by default; n2p2 undoes its normalization).

The base writes once: the per-element dispatch, the model contract's ``forward``,
``forward_with_extrapolation``, ``extrapolation_counts`` and ``forward_members`` (every
member's energies from member copies of the edge vectors, for one backward pass of all
members: the descriptor operators take such copies), the shape of the
energies (``[N]``, or ``[M, N]`` for a committee), the per-element energy offsets
(``energy_offset``) and the descriptors' training range (``descriptor_min`` /
``descriptor_max``, -inf / +inf where unknown, so that such columns never flag).
State dicts written before these names (``g_min``/``g_max``, ``aev_min``/``aev_max``,
``self_energies``) load under them.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

#: Values of one element's descriptors: a tensor, an array or a list of floats.
Values = Union[torch.Tensor, np.ndarray, Sequence[float]]

#: Buffer names of the families before they shared this base, and their names now.
RENAMED_BUFFERS: Dict[str, str] = {
    "g_min": "descriptor_min",
    "g_max": "descriptor_max",
    "aev_min": "descriptor_min",
    "aev_max": "descriptor_max",
    "self_energies": "energy_offset",
}


def outside_training_range(
    descriptors: torch.Tensor, species: torch.Tensor, minimum: torch.Tensor, maximum: torch.Tensor
) -> torch.Tensor:
    """Per descriptor row: how many values lie outside the training range of the row's
    element (``minimum[species]``, ``maximum[species]``), [rows] int64. The descriptors
    are detached: counting needs no gradient."""
    g = descriptors.detach()
    s = species[: g.shape[0]]
    return ((g < minimum[s]) | (g > maximum[s])).sum(1)


class DescriptorModel(torch.nn.Module):
    """Per-element networks over per-atom descriptors, following the nnpkit model contract.

    Args:
        species: element symbols in model order.
        cutoff: the descriptors' cutoff (model length unit); also the interaction range.
        n_per_element: how many descriptor columns each element's network reads
            (the first ones of its rows).
        n_columns: columns of the full descriptor rows (the widest element's count).
        committee_size: M, the members every element network evaluates.
        networks: one module per element, see the module docstring.
    """

    species: List[str]
    cutoff: float
    interaction_range: float
    committee_size: int
    n_per_element: List[int]

    def __init__(
        self,
        species: Sequence[str],
        cutoff: float,
        n_per_element: Sequence[int],
        n_columns: int,
        committee_size: int,
        networks: Sequence[torch.nn.Module],
    ) -> None:
        super().__init__()
        self.species = list(species)
        n_elements = len(self.species)
        if len(networks) != n_elements or len(n_per_element) != n_elements:
            raise ValueError(f"need one network and one descriptor count for each of the {n_elements} species")
        self.cutoff = float(cutoff)
        self.interaction_range = float(cutoff)
        self.committee_size = int(committee_size)
        self.n_per_element = [int(n) for n in n_per_element]
        self.networks = torch.nn.ModuleList(list(networks))
        self.register_buffer("energy_offset", torch.zeros(n_elements, dtype=torch.float64))
        self.register_buffer("descriptor_min", torch.full((n_elements, n_columns), -float("inf"), dtype=torch.float64))
        self.register_buffer("descriptor_max", torch.full((n_elements, n_columns), float("inf"), dtype=torch.float64))

    # --- what a family supplies ---------------------------------------------------------

    def descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Full descriptor rows of the local atoms, ``[n_local, n_columns]`` (what
        training caches and the training range covers)."""
        raise NotImplementedError

    def local_descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Descriptor rows of the local atoms ``[n_local, D']`` as the model evaluates
        them, and the full-descriptor column of each of their columns (None: full rows,
        :meth:`descriptors`; ANI leaves out the columns of absent species)."""
        return self.descriptors(species, edge_index, edge_vectors, n_local), None

    def network_inputs(self, descriptors: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """The networks' inputs from the descriptor rows ``[n, D]`` (or member copies
        ``[M, n, D]``) of the first atoms of ``species``."""
        return descriptors

    def network_output_to_energy(self, output: torch.Tensor) -> torch.Tensor:
        """An element network's output ``[M, n]`` in the model's energy unit, before the offset."""
        return output

    # --- written once -------------------------------------------------------------------

    def energies_from_descriptors(
        self, descriptors: torch.Tensor, species: torch.Tensor, columns: Optional[torch.Tensor]
    ) -> torch.Tensor:
        """Per-atom energies ``[M, N]`` (N = ``species.shape[0]``; zero beyond the rows) from
        the descriptor rows ``[n, D]`` of the first atoms of ``species``, or from member
        copies of them ``[M, n, D]`` (member m reads copy m), through autograd: training
        caches the descriptors and calls this."""
        inputs = self.network_inputs(descriptors, species)
        energies = torch.zeros(self.committee_size, species.shape[0], dtype=inputs.dtype, device=inputs.device)
        rows_dim = inputs.dim() - 2  # 0, or 1 behind the member copies
        centre_species = species[: inputs.shape[rows_dim]]
        for e, network in enumerate(self.networks):
            idx = torch.nonzero(centre_species == e).squeeze(1)
            if idx.numel() > 0:
                rows = inputs.index_select(rows_dim, idx)[..., : self.n_per_element[e]]
                atomic = self.network_output_to_energy(network(rows, columns)) + self.energy_offset[e]
                energies = energies.index_copy(1, idx, atomic)
        return energies

    def _energies(self, descriptors: torch.Tensor, species: torch.Tensor, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """Per-atom energies ``[M, N]`` as ``forward`` computes them (a family may take a faster path)."""
        return self.energies_from_descriptors(descriptors, species, columns)

    def _contract_energies(self, energies: torch.Tensor) -> torch.Tensor:
        """Per-atom energies as the model contract wants them: [N], or [M, N] for a committee."""
        return energies[0] if self.committee_size == 1 else energies

    def _outside_training_range(
        self, descriptors: torch.Tensor, species: torch.Tensor, columns: Optional[torch.Tensor]
    ) -> torch.Tensor:
        minimum, maximum = self.descriptor_min, self.descriptor_max
        if columns is not None:
            minimum, maximum = minimum.index_select(1, columns), maximum.index_select(1, columns)
        return outside_training_range(descriptors, species, minimum, maximum)

    def atomic_energies(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Per-atom energies ``[M, N]`` of every member (zero for atoms n_local..N-1)."""
        descriptors, columns = self.local_descriptors(species, edge_index, edge_vectors, n_local)
        return self._energies(descriptors, species, columns)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        return self._contract_energies(self.atomic_energies(species, edge_index, edge_vectors, n_local))

    @torch.jit.export
    def forward_with_extrapolation(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``forward``'s energies and :meth:`extrapolation_counts` from one descriptor computation."""
        descriptors, columns = self.local_descriptors(species, edge_index, edge_vectors, n_local)
        energies = self._energies(descriptors, species, columns)
        return self._contract_energies(energies), self._outside_training_range(descriptors, species, columns)

    @torch.jit.export
    def extrapolation_counts(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Per local atom: how many of its descriptors lie outside the training range
        [descriptor_min, descriptor_max] of its element, [n_local] int64 (all zero where no
        range is known)."""
        descriptors, columns = self.local_descriptors(species, edge_index, edge_vectors.detach(), n_local)
        return self._outside_training_range(descriptors, species, columns)

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
        only), so that one backward pass of their sum gives each member's gradient: the
        descriptors are computed once and their backward contracts all members'
        gradients in one pass. With ``extrapolation`` also :meth:`extrapolation_counts`
        (else an empty tensor). The engines call this for committee statistics."""
        if member_edge_vectors.dim() != 3 or member_edge_vectors.shape[0] != self.committee_size:
            raise ValueError("forward_members takes one copy of the edge vectors per committee member, [M, E, 3]")
        descriptors, columns = self.local_descriptors(species, edge_index, member_edge_vectors, n_local)
        energies = self._energies(descriptors, species, columns)
        counts = torch.zeros(0, dtype=torch.int64)
        if extrapolation:
            counts = self._outside_training_range(descriptors[0], species, columns)
        return energies, counts

    # --- the training range (Python only) -----------------------------------------------

    @torch.jit.unused
    def has_training_range(self) -> bool:
        """Whether any descriptor has a known training range."""
        return bool(torch.isfinite(self.descriptor_min).any() or torch.isfinite(self.descriptor_max).any())

    @torch.jit.unused
    def set_training_range(self, element: int, minimum: Values, maximum: Values) -> None:
        """The training range of the first ``len(minimum)`` descriptors of ``element`` (its index)."""
        low = torch.as_tensor(minimum, dtype=self.descriptor_min.dtype)
        high = torch.as_tensor(maximum, dtype=self.descriptor_max.dtype)
        if low.shape != high.shape or low.dim() != 1 or low.shape[0] > self.n_per_element[element]:
            raise ValueError(f"a training range of element {self.species[element]} needs two equal vectors of at "
                             f"most {self.n_per_element[element]} values, got shapes {tuple(low.shape)} and "
                             f"{tuple(high.shape)}")
        with torch.no_grad():
            self.descriptor_min[element, : low.shape[0]] = low
            self.descriptor_max[element, : high.shape[0]] = high

    @torch.jit.unused
    def fit_training_range(self, descriptors: torch.Tensor, species: torch.Tensor) -> None:
        """Per element, the minimum and maximum of each of its descriptors over the rows of
        ``descriptors`` (full rows, training data); elements without rows keep an unknown range."""
        for e, n in enumerate(self.n_per_element):
            rows = descriptors[species == e][:, :n]
            if rows.shape[0]:
                self.set_training_range(e, rows.min(0).values, rows.max(0).values)

    @torch.jit.unused
    def training_ranges(self) -> Dict[str, List[List[float]]]:
        """Per element with a known range: [minimum, maximum] of each of its descriptors
        (the ``descriptor_ranges`` of a trained model's metadata)."""
        ranges: Dict[str, List[List[float]]] = {}
        for e, element in enumerate(self.species):
            n = self.n_per_element[e]
            if bool(torch.isfinite(self.descriptor_min[e, :n]).all()):
                ranges[element] = torch.stack([self.descriptor_min[e, :n], self.descriptor_max[e, :n]], 1).tolist()
        return ranges

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Checkpoints written before the families shared these buffers name them as the
        # families did; those written before models kept a training range lack it
        # (loaded as unknown instead of refused).
        for old, new in RENAMED_BUFFERS.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        for name in ("descriptor_min", "descriptor_max"):
            if prefix + name not in state_dict:
                state_dict[prefix + name] = getattr(self, name).detach().clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
