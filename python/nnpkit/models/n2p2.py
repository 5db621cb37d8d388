"""High-dimensional neural network potentials exactly as n2p2 evaluates them.

Differences from :class:`~nnpkit.models.BehlerParrinelloModel` that an n2p2 model
needs: data-set normalization (lengths are multiplied by ``conv_length`` before the
symmetry functions, network outputs divided by ``conv_energy`` and shifted by
``mean_energy``), n2p2's symmetry-function scaling ``Smin + factor (G - Gref)``,
per-layer activation functions (n2p2's letters), ``normalize_nodes`` and per-element
network shapes. The training range [Gmin, Gmax] of every symmetry function is kept
so that :meth:`N2p2Model.extrapolation_counts` can flag atoms outside it, as n2p2's
extrapolation warnings do.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .descriptor_model import DescriptorModel
from .symmetry_functions import SymmetryFunctions, SymmetryFunctionSet

#: n2p2 activation letters (``global_activation_short``) and their codes here.
ACTIVATIONS: dict[str, int] = {
    "l": 0,  # identity
    "t": 1,  # tanh
    "s": 2,  # logistic 1 / (1 + exp(-x))
    "p": 3,  # softplus ln(1 + exp(x))
    "r": 4,  # ReLU
    "g": 5,  # Gaussian exp(-x^2 / 2)
    "c": 6,  # cos
    "S": 7,  # reverse logistic 1 - 1 / (1 + exp(-x))
    "e": 8,  # exp(-x)
    "h": 9,  # harmonic x^2
}


def activate(x: torch.Tensor, code: int) -> torch.Tensor:
    """Apply the n2p2 activation with the given code (see :data:`ACTIVATIONS`)."""
    if code == 0:
        return x
    if code == 1:
        return torch.tanh(x)
    # n2p2 clamps logistic and softplus beyond |x| > 35 (its EXP_LIMIT).
    if code == 2:
        inside = torch.sigmoid(x.clamp(-35.0, 35.0))
        return torch.where(x > 35.0, torch.ones_like(x), torch.where(x < -35.0, torch.zeros_like(x), inside))
    if code == 3:
        inside = torch.log1p(torch.exp(x.clamp(-35.0, 35.0)))
        return torch.where(x > 35.0, x, torch.where(x < -35.0, torch.zeros_like(x), inside))
    if code == 4:
        return torch.relu(x)
    if code == 5:
        return torch.exp(-0.5 * x * x)
    if code == 6:
        return torch.cos(x)
    if code == 7:
        return 1.0 - torch.sigmoid(x)
    if code == 8:
        return torch.exp(-x)
    if code == 9:
        return x * x
    raise RuntimeError("unknown activation code")


class N2p2AtomicNetwork(torch.nn.Module):
    """One element's feed-forward network: ``layer_sizes`` = [inputs, hidden..., 1],
    one activation letter per non-input layer."""

    def __init__(self, layer_sizes: Sequence[int], activations: str, normalize_nodes: bool = False) -> None:
        super().__init__()
        if len(activations) != len(layer_sizes) - 1:
            raise ValueError(f"need {len(layer_sizes) - 1} activation letters, got '{activations}'")
        for letter in activations:
            if letter not in ACTIVATIONS:
                raise ValueError(f"unknown n2p2 activation '{letter}' (known: {' '.join(ACTIVATIONS)})")
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.activation_letters: str = activations
        self.activation_codes = [ACTIVATIONS[a] for a in activations]
        self.normalize_nodes: bool = bool(normalize_nodes)
        self.fan_in = [float(n) for n in self.layer_sizes[:-1]]
        self.layers = torch.nn.ModuleList(
            [torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]
        )

    @property
    def n_connections(self) -> int:
        return sum((a + 1) * b for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    @torch.jit.unused
    def set_connections(self, connections: np.ndarray) -> None:
        """Weights and biases in n2p2's order (weights.ZZZ.data): per layer, the
        weights from each neuron of the previous layer to every neuron of this one,
        then this layer's biases."""
        connections = np.asarray(connections, dtype=np.float64)
        if connections.shape != (self.n_connections,):
            raise ValueError(f"expected {self.n_connections} connections, got {connections.size}")
        offset = 0
        with torch.no_grad():
            for layer in self.layers:
                n_in, n_out = layer.in_features, layer.out_features
                w = connections[offset : offset + n_in * n_out].reshape(n_in, n_out)
                offset += n_in * n_out
                layer.weight.copy_(torch.from_numpy(w.T.copy()))
                layer.bias.copy_(torch.from_numpy(connections[offset : offset + n_out].copy()))
                offset += n_out

    def forward(self, x: torch.Tensor, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """Outputs [1, n] of n atoms' scaled symmetry functions [n, inputs] (or of one
        member copy of them, [1, n, inputs]; in n2p2's normalized energy unit);
        ``columns`` is always None: the rows are full."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.normalize_nodes:
                x = x / self.fan_in[i]
            x = activate(x, self.activation_codes[i])
        return x.squeeze(2) if x.dim() == 3 else x.t()


class N2p2Model(DescriptorModel):
    """An n2p2 short-range HDNNP following the nnpkit model contract.

    ``sf_set`` holds the symmetry functions in n2p2's sorted order and in n2p2's
    internal (normalized) length unit; lengths of the model's unit are multiplied
    by ``conv_length`` before they reach it. Per element e and column c:
    ``x = scale_min[e] + scale_factor[e, c] * (G - scale_center[e, c])`` feeds
    ``networks[e]``; the atomic energy is ``network / conv_energy + mean_energy +
    energy_offset[e]`` in the model's energy unit. The training range
    ``descriptor_min`` / ``descriptor_max`` is n2p2's [Gmin, Gmax] of unscaled G.
    """

    model_type: str = "n2p2"

    def __init__(
        self,
        sf_set: SymmetryFunctionSet,
        networks: Sequence[N2p2AtomicNetwork],
        *,
        conv_length: float = 1.0,
        conv_energy: float = 1.0,
        mean_energy: float = 0.0,
        energy_offsets: Sequence[float] | None = None,
    ) -> None:
        n_el, n_col = len(sf_set.species), sf_set.n_columns
        if len(networks) != n_el:
            raise ValueError(f"need one network per element ({n_el}), got {len(networks)}")
        for e, (net, n) in enumerate(zip(networks, sf_set.n_per_element)):
            if net.layer_sizes[0] != n:
                raise ValueError(f"network of {sf_set.species[e]} takes {net.layer_sizes[0]} inputs, "
                                 f"but the element has {n} symmetry functions")
        # The symmetry functions are in normalized lengths; the contract's cutoff is in model units.
        super().__init__(sf_set.species, float(sf_set.cutoff) / float(conv_length), sf_set.n_per_element, n_col, 1,
                         networks)
        self.conv_length: float = float(conv_length)
        self.conv_energy: float = float(conv_energy)
        self.mean_energy: float = float(mean_energy)
        self.sf_types = [sorted({int(f.n2p2_type) for f in sf_set.functions if f.center == s})
                         for s in self.species]
        self.descriptor = SymmetryFunctions(sf_set)
        self.register_buffer("scale_factor", torch.ones(n_el, n_col, dtype=torch.float64))
        self.register_buffer("scale_center", torch.zeros(n_el, n_col, dtype=torch.float64))
        self.register_buffer("scale_min", torch.zeros(n_el, 1, dtype=torch.float64))
        if energy_offsets is not None:
            self.energy_offset.copy_(torch.tensor(list(energy_offsets), dtype=torch.float64))

    @torch.jit.unused
    def set_scaling(self, element: int, factor: np.ndarray, center: np.ndarray, smin: float) -> None:
        """n2p2's scaling of one element's symmetry functions (its training range:
        :meth:`set_training_range`)."""
        n = self.n_per_element[element]
        with torch.no_grad():
            self.scale_factor[element, :n] = torch.as_tensor(factor, dtype=torch.float64)
            self.scale_center[element, :n] = torch.as_tensor(center, dtype=torch.float64)
            self.scale_min[element, 0] = float(smin)

    @torch.jit.unused
    def describe(self) -> dict:
        shapes = {
            s: "-".join(map(str, net.layer_sizes)) + f" ({' '.join(net.activation_letters)})"
            for s, net in zip(self.species, self.networks)
        }
        return {
            "descriptor": "n2p2 symmetry functions",
            "descriptors_per_element": dict(zip(self.species, self.n_per_element)),
            "symmetry_function_types": {s: t for s, t in zip(self.species, self.sf_types)},
            "network_shapes": shapes,
            "normalize_nodes": bool(self.networks[0].normalize_nodes),
            "normalization": {"conv_length": self.conv_length, "conv_energy": self.conv_energy,
                              "mean_energy": self.mean_energy},
            "extrapolation_check": "symmetry functions outside their training range [Gmin, Gmax]",
        }

    def descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """Unscaled symmetry functions of the local atoms, [n_local, n_columns]."""
        # In n2p2's normalized lengths: the operator scales the edge vectors (for
        # committee member copies [M, E, 3] without materializing their product).
        return self.descriptor(edge_vectors, edge_index, species, n_local, self.conv_length)

    def network_inputs(self, descriptors: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """n2p2's scaling of unscaled symmetry functions of the first rows of ``species``."""
        s = species[: descriptors.shape[-2]]
        return self.scale_min[s] + self.scale_factor[s] * (descriptors - self.scale_center[s])

    def network_output_to_energy(self, output: torch.Tensor) -> torch.Tensor:
        return output / self.conv_energy + self.mean_energy

    @torch.jit.export
    def scaled_descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """The network inputs of the local atoms (n2p2's scaled G), [n_local, n_columns]."""
        return self.network_inputs(self.descriptors(species, edge_index, edge_vectors, n_local), species)
