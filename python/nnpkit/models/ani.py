"""ANI potentials (ANI-1x, ANI-1ccx, ANI-2x and any model of that form).

An atom's energy is its element's network applied to its atomic environment
vector (AEV, computed by the C++ operator ``torch.ops.nnpkit.ani_aev``) plus the
element's self-atomic energy. Networks use CELU(alpha) activations (0.1 in
NeuroChem and TorchANI). The members of an ensemble form a committee: the model
returns per-atom energies ``[M, N]`` and the engine reports their mean and spread.

Three things make it fast: the members of each element are evaluated together
(one matrix product for the first layer of all members, batched products after);
the first layer only reads the AEV columns that can be non-zero, those of the
species present in the structure (for water: 128 of ANI-2x's 1008); and, once no
weight needs a gradient (model files run by the engines), all networks run in one
C++ operator (``torch.ops.nnpkit.ani_networks``) with an analytic backward, the
first layers restricted to each species set kept between calls. Training, with
weights that require gradients, goes through the same arithmetic in autograd.

Committee statistics need each member's forces. :meth:`AniModel.forward_members`
takes one copy of the edge vectors per member, and one backward pass of the sum of
all member energies gives every copy its own member's gradient: the AEV and its
derivatives are computed once and contracted with all members' gradients.
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .descriptor_model import DescriptorModel


@dataclass(frozen=True)
class AevParameters:
    """The constants of an ANI AEV (NeuroChem's ``.params`` file names in brackets).

    Attributes:
        radial_cutoff: Rcr, Angstrom.
        radial_eta: EtaR.
        radial_shifts: ShfR.
        angular_cutoff: Rca, Angstrom.
        angular_eta: EtaA.
        angular_zeta: Zeta.
        angular_shifts: ShfA.
        angular_sections: ShfZ (radians).
    """

    radial_cutoff: float
    radial_eta: float
    radial_shifts: tuple[float, ...]
    angular_cutoff: float
    angular_eta: float
    angular_zeta: float
    angular_shifts: tuple[float, ...]
    angular_sections: tuple[float, ...]

    def __post_init__(self) -> None:
        if not 0.0 < self.angular_cutoff <= self.radial_cutoff:
            raise ValueError(
                f"need 0 < angular cutoff ({self.angular_cutoff}) <= radial cutoff ({self.radial_cutoff})"
            )
        for name in ("radial_shifts", "angular_shifts", "angular_sections"):
            if len(getattr(self, name)) == 0:
                raise ValueError(f"AEV parameter {name} is empty")

    @classmethod
    def standard(
        cls,
        radial_cutoff: float,
        angular_cutoff: Optional[float] = None,
        n_radial: int = 16,
        n_angular: int = 4,
        n_sections: int = 8,
        radial_eta: float = 16.0,
        angular_eta: float = 8.0,
        angular_zeta: float = 32.0,
        r_min: float = 0.9,
    ) -> "AevParameters":
        """ANI-1x's layout for any cutoff: ``n_radial`` radial shifts evenly from
        ``r_min`` up to (not including) the radial cutoff, ``n_angular`` angular
        shifts likewise below the angular cutoff, and ``n_sections`` angle sections
        centred at (2k+1) pi / (2 n_sections). With the defaults and cutoffs 5.2 and
        3.5 Angstrom this is exactly ANI-1x's AEV. The angular cutoff defaults to
        ANI's ratio, 3.5/5.2 of the radial one."""
        if angular_cutoff is None:
            angular_cutoff = round(radial_cutoff * 3.5 / 5.2, 10)
        for name, value in (("n_radial", n_radial), ("n_angular", n_angular), ("n_sections", n_sections)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AEV {name} must be a positive integer, got {value!r}")
        for name, value in (("radial_eta", radial_eta), ("angular_eta", angular_eta), ("angular_zeta", angular_zeta)):
            if not value > 0:
                raise ValueError(f"AEV {name} must be positive, got {value!r}")
        if not 0.0 <= r_min < min(radial_cutoff, angular_cutoff):
            raise ValueError(f"AEV r_min ({r_min}) must lie below both cutoffs ({radial_cutoff}, {angular_cutoff})")

        def shifts(cutoff: float, n: int) -> tuple[float, ...]:
            return tuple(r_min + k * (cutoff - r_min) / n for k in range(n))

        return cls(
            radial_cutoff=float(radial_cutoff),
            radial_eta=float(radial_eta),
            radial_shifts=shifts(radial_cutoff, n_radial),
            angular_cutoff=float(angular_cutoff),
            angular_eta=float(angular_eta),
            angular_zeta=float(angular_zeta),
            angular_shifts=shifts(angular_cutoff, n_angular),
            angular_sections=tuple((2 * k + 1) * math.pi / (2 * n_sections) for k in range(n_sections)),
        )

    def radial_length(self, n_species: int) -> int:
        return n_species * len(self.radial_shifts)

    def angular_block(self) -> int:
        """AEV columns of one species pair."""
        return len(self.angular_shifts) * len(self.angular_sections)

    def length(self, n_species: int) -> int:
        return self.radial_length(n_species) + n_species * (n_species + 1) // 2 * self.angular_block()


class AniAev(torch.nn.Module):
    """The AEV of the first ``n_centers`` atoms, ``[n_centers, length]`` in TorchANI's layout."""

    radial_cutoff: float
    radial_eta: float
    radial_shifts: List[float]
    angular_cutoff: float
    angular_eta: float
    angular_zeta: float
    angular_shifts: List[float]
    angular_sections: List[float]

    def __init__(self, params: AevParameters) -> None:
        super().__init__()
        self.radial_cutoff = float(params.radial_cutoff)
        self.radial_eta = float(params.radial_eta)
        self.radial_shifts = [float(x) for x in params.radial_shifts]
        self.angular_cutoff = float(params.angular_cutoff)
        self.angular_eta = float(params.angular_eta)
        self.angular_zeta = float(params.angular_zeta)
        self.angular_shifts = [float(x) for x in params.angular_shifts]
        self.angular_sections = [float(x) for x in params.angular_sections]

    def forward(
        self, edge_vectors: torch.Tensor, edge_index: torch.Tensor, species: torch.Tensor, n_species: int, n_centers: int
    ) -> torch.Tensor:
        return torch.ops.nnpkit.ani_aev(
            edge_vectors,
            edge_index,
            species,
            n_species,
            n_centers,
            self.radial_cutoff,
            self.radial_eta,
            self.radial_shifts,
            self.angular_cutoff,
            self.angular_eta,
            self.angular_zeta,
            self.angular_shifts,
            self.angular_sections,
        )


def _keep_per_species_set(kept: Dict[int, List[torch.Tensor]], key: int, value: List[torch.Tensor]) -> List[torch.Tensor]:
    """``value`` stored under ``key`` in ``kept``, which is emptied first when it holds
    32 species sets (a long run meets few; past that they are rebuilt)."""
    if len(kept) >= 32:
        kept.clear()
    kept[key] = value
    return value


def _exact_float32_copy(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` as float32 in its own layout (strides) when every value is a float32
    value, else an empty tensor. Widened back in the operator, such a copy gives the
    same products as the float64 weights."""
    if weight.numel() == 0:
        return torch.empty(0, dtype=torch.float32)
    narrow = torch.empty_strided(weight.shape, weight.stride(), dtype=torch.float32, device=weight.device)
    narrow.copy_(weight)
    if not torch.equal(narrow.to(weight.dtype), weight):
        return torch.empty(0, dtype=torch.float32)
    return narrow


def celu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """CELU, max(0, x) + alpha (exp(min(0, x)/alpha) - 1), with an exact derivative.

    ``torch.nn.functional.celu``'s backward scales by 1/alpha with alpha rounded to
    float32, which puts a relative error of about 1e-8 into forces; this form's
    autograd (also twice, for training on forces) is exact, as is the C++ operator."""
    return torch.relu(x) + alpha * torch.expm1(torch.clamp(x, max=0.0) / alpha)


class _BatchedLinear(torch.nn.Module):
    """One linear layer of M members: [M, n, in] -> [M, n, out]."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight.clone())  # [M, out, in]
        self.bias = torch.nn.Parameter(bias.clone())  # [M, out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class ElementNetworks(torch.nn.Module):
    """The networks of one element for all M committee members, evaluated together.

    ``layers`` is a list of (weight [M, out, in], bias [M, out]) pairs; the last
    layer has one output and no activation.
    """

    def __init__(self, layers: Sequence[tuple[torch.Tensor, torch.Tensor]], celu_alpha: float = 0.1) -> None:
        super().__init__()
        if len(layers) < 2:
            raise ValueError("an ANI element network needs at least one hidden layer and an output layer")
        w0, b0 = layers[0]
        self.first_weight = torch.nn.Parameter(w0.clone())  # [M, h1, D]
        self.first_bias = torch.nn.Parameter(b0.clone())  # [M, h1]
        self.hidden = torch.nn.ModuleList([_BatchedLinear(w, b) for w, b in layers[1:-1]])
        self.output = _BatchedLinear(*layers[-1])
        if self.output.weight.shape[1] != 1:
            raise ValueError(f"the last layer must have one output, not {self.output.weight.shape[1]}")
        self.celu_alpha = float(celu_alpha)

    def requires_grad(self) -> bool:
        """Whether any weight or bias needs a gradient (then autograd, not the C++ operator, evaluates)."""
        trainable = self.first_weight.requires_grad or self.first_bias.requires_grad
        for layer in self.hidden:
            trainable = trainable or layer.weight.requires_grad or layer.bias.requires_grad
        return trainable or self.output.weight.requires_grad or self.output.bias.requires_grad

    def first_layer_columns(self, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """The first layer of all members as one matrix [D, M*h1] over the AEV columns
        ``columns`` (None: all), the layout the ``ani_networks`` operator reads."""
        weight = self.first_weight
        if columns is not None:
            weight = weight.index_select(2, columns)
        return weight.permute(2, 0, 1).reshape(weight.shape[2], -1)

    def operator_layers(self, first_weight: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Weights and biases in the ``ani_networks`` operator's order, with ``first_weight``
        (from :meth:`first_layer_columns`) as the first layer."""
        weights, biases = [first_weight], [self.first_bias]
        for layer in self.hidden:
            weights.append(layer.weight)
            biases.append(layer.bias)
        weights.append(self.output.weight)
        biases.append(self.output.bias)
        return weights, biases

    def shapes(self) -> list[int]:
        dims = [int(self.first_weight.shape[2]), int(self.first_weight.shape[1])]
        dims += [int(layer.weight.shape[1]) for layer in self.hidden]
        return dims + [1]

    def forward(self, aev: torch.Tensor, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """Energies [M, n] of n atoms of this element from their AEV rows. ``columns``
        maps the columns of a compacted AEV to the full one (None: AEV is full)."""
        weight = self.first_weight
        if columns is not None:
            weight = weight.index_select(2, columns)
        m, h1, d = weight.shape
        # All members' first layers in one matrix product: [n, D] x [D, M*h1].
        x = torch.addmm(self.first_bias.reshape(m * h1), aev, weight.reshape(m * h1, d).t())
        x = celu(x.reshape(-1, m, h1).transpose(0, 1), self.celu_alpha)
        for layer in self.hidden:
            x = celu(layer(x), self.celu_alpha)
        return self.output(x).squeeze(2)


class AniModel(DescriptorModel):
    """An ANI potential following the nnpkit model contract.

    Args:
        species: element symbols in the model's (AEV) order, e.g. H C N O S F Cl.
        aev: the AEV constants.
        networks: per element (model order), a list of (weight [M, out, in], bias [M, out])
            layers for the M committee members.
        self_energies: per element, added to each atom's energy (Hartree for ANI); the
            model's ``energy_offset``.
        celu_alpha: CELU parameter of the hidden layers (0.1 in ANI).

    The training range ``descriptor_min`` / ``descriptor_max`` covers the full AEV
    (unknown for converted models, set by ``nnpkit train``).
    """

    model_type: str = "ani"
    species: List[str]
    celu_alpha: float
    # Per species set present (bit mask), each element's first layer over that set's
    # AEV columns ([D', M*h1], empty for absent elements). Filled only when scripted
    # (model files: weights fixed); eager modules recompute them, as weights may change.
    _first_layers: Dict[int, List[torch.Tensor]]
    # Float32 copies of a float64 model's weights where they are float32 values (as
    # converted from NeuroChem): the operator reads them for elements with few atoms,
    # whose products are bound by reading the weights (same numbers at half the
    # bytes). Per species set the first layers, per element the later ones; empty
    # tensors where a copy would not be exact. Scripted models only, like _first_layers.
    _narrow_first_layers: Dict[int, List[torch.Tensor]]
    _narrow_later_layers: Dict[int, List[torch.Tensor]]
    # Per species set, [the full-AEV columns of its compacted AEV, the renumbering of
    # species into it] (about 50 microseconds of small tensor operations a call, a
    # few per cent of a small molecule's evaluation). Scripted models only.
    _aev_layouts: Dict[int, List[torch.Tensor]]
    # Per species counts (each capped at 3), for molecules with one or two atoms of a
    # species: per element the compacted-AEV columns its first layer can read (the
    # pair blocks no centre of it can have: one N atom gives no N-N block anywhere
    # and no N-x block for the N centre), those it cannot, and its first layer (and
    # float32 copy) over the kept ones. Scripted models only.
    _structural_layers: Dict[int, List[List[torch.Tensor]]]
    n_species: int
    cutoff: float
    interaction_range: float
    aev_length: int
    n_radial: int
    angular_block: int
    committee_size: int
    n_per_element: List[int]

    def __init__(
        self,
        species: Sequence[str],
        aev: AevParameters,
        networks: Sequence[Sequence[tuple[torch.Tensor, torch.Tensor]]],
        self_energies: Sequence[float],
        celu_alpha: float = 0.1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        n = len(species)
        if len(networks) != n or len(self_energies) != n:
            raise ValueError(f"need one network stack and one self energy for each of the {n} species")
        aev_length = aev.length(n)
        members = {int(layers[0][0].shape[0]) for layers in networks}
        if len(members) != 1:
            raise ValueError(f"every element needs the same number of committee members, got {sorted(members)}")
        element_networks = [ElementNetworks(layers, celu_alpha) for layers in networks]
        for s, net in zip(species, element_networks):
            if net.first_weight.shape[2] != aev_length:
                raise ValueError(f"the {s} network reads {net.first_weight.shape[2]} inputs but the AEV has {aev_length}")
        super().__init__(species, aev.radial_cutoff, [aev_length] * n, aev_length, members.pop(), element_networks)
        self.n_species = n
        self.aev_parameters = aev
        self.aev_length = aev_length
        self.n_radial = len(aev.radial_shifts)
        self.angular_block = aev.angular_block()
        self.aev = AniAev(aev)
        self.celu_alpha = float(celu_alpha)
        self._first_layers = {}
        self._narrow_first_layers = {}
        self._narrow_later_layers = {}
        self._aev_layouts = {}
        self._structural_layers = {}
        self.energy_offset.copy_(torch.tensor([float(e) for e in self_energies], dtype=torch.float64))
        pair_table = torch.zeros(n, n, dtype=torch.int64)
        rows, cols = torch.triu_indices(n, n)
        pair_table[rows, cols] = torch.arange(rows.shape[0])
        pair_table[cols, rows] = torch.arange(rows.shape[0])
        self.register_buffer("pair_table", pair_table)
        self.to(dtype)

    def describe(self) -> dict:
        described = {
            "descriptor": "ANI atomic environment vector",
            "aev_length": self.aev_length,
            "descriptors_per_element": {s: self.aev_length for s in self.species},
            "network_shapes": {s: net.shapes() for s, net in zip(self.species, self.networks)},
            "activation": f"celu({self.networks[0].celu_alpha})",
            "aev_parameters": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.aev_parameters.__dict__.items()
            },
        }
        if self.has_training_range():
            described["extrapolation_check"] = "AEV components outside their training range"
        return described

    def _aev_columns(self, active: torch.Tensor) -> torch.Tensor:
        """Columns of the full AEV that the AEV over the ``active`` species (sorted) holds."""
        device = active.device
        radial = (active.unsqueeze(1) * self.n_radial + torch.arange(self.n_radial, device=device)).reshape(-1)
        pairs = torch.triu_indices(active.shape[0], active.shape[0], device=device)
        full_pairs = self.pair_table[active[pairs[0]], active[pairs[1]]]
        angular = (
            self.n_species * self.n_radial
            + full_pairs.unsqueeze(1) * self.angular_block
            + torch.arange(self.angular_block, device=device)
        ).reshape(-1)
        return torch.cat([radial, angular])

    def descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        """The full AEV of the local atoms (all species' columns), [n_local, aev_length]."""
        return self.aev(edge_vectors, edge_index, species, self.n_species, n_local)

    def local_descriptors(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The AEV rows of the local atoms over only the species present (absent
        species' columns are zero, and their first-layer weights need not be read),
        and the full-AEV column of each of its columns (None: all species present).
        With member copies of the edge vectors ([M, E, 3]) the AEV is [M, n_local, D']."""
        active = self._present_species(species)
        n_active = int(active.shape[0])
        columns: Optional[torch.Tensor] = None
        aev_species = species
        if n_active < self.n_species:
            columns, remap = self._compacted_aev_layout(active)
            aev_species = remap[species]
        return self.aev(edge_vectors, edge_index, aev_species, max(n_active, 1), n_local), columns

    def _compacted_aev_layout(self, active: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The full-AEV columns of the AEV over the ``active`` species, and the map of
        model species to their index among ``active`` (-1: absent); kept per species
        set when scripted."""
        scripted = torch.jit.is_scripting()
        key = self._species_set_key(active)
        if scripted and key in self._aev_layouts:
            layout = self._aev_layouts[key]
            if layout[0].device == active.device:
                return layout[0], layout[1]
        remap = torch.full([self.n_species], -1, dtype=torch.int64, device=active.device)
        remap[active] = torch.arange(active.shape[0], device=active.device)
        columns = self._aev_columns(active)
        if scripted:
            _keep_per_species_set(self._aev_layouts, key, [columns, remap])
        return columns, remap

    def _present_species(self, species: torch.Tensor) -> torch.Tensor:
        """Indices of the species present among ``species``, ascending."""
        present = torch.zeros(self.n_species, dtype=torch.bool, device=species.device)
        present[species] = True
        return torch.nonzero(present).squeeze(1)

    def _uses_operator(self) -> bool:
        """Whether the networks run in the ``ani_networks`` operator: when no weight
        needs a gradient (or gradients are off). Training takes the autograd path."""
        if not torch.is_grad_enabled():
            return True
        for network in self.networks:
            if network.requires_grad():
                return False
        return True

    def _energies(self, aev: torch.Tensor, species: torch.Tensor, columns: Optional[torch.Tensor]) -> torch.Tensor:
        """Per-atom energies [M, N] from the local AEV rows ([n, D'] or member copies [M, n, D'])."""
        if not self._uses_operator():
            if aev.dim() == 3:
                raise RuntimeError("member copies of the edge vectors (forward_members) are the inference path: "
                                   "call requires_grad_(False) on the model first")
            return self.energies_from_descriptors(aev, species, columns)
        active = self._present_species(species)
        key = self._species_set_key(active)
        firsts = self._first_layer_weights(active, columns, key)
        narrow_firsts = self._narrow_first_layer_weights(firsts, key)
        element_columns: Optional[List[torch.Tensor]] = None
        structural = self._structural_first_layers(aev, species, active, firsts, narrow_firsts)
        if structural is not None:
            element_columns = structural[0]
            firsts = structural[2]
            if narrow_firsts is not None:
                narrow_firsts = structural[3]
        weights: List[torch.Tensor] = []
        biases: List[torch.Tensor] = []
        narrow: List[torch.Tensor] = []
        n_layers: List[int] = []
        for e, network in enumerate(self.networks):
            if firsts[e].numel() == 0:
                n_layers.append(0)
            else:
                w, b = network.operator_layers(firsts[e])
                weights.extend(w)
                biases.extend(b)
                n_layers.append(len(w))
                if narrow_firsts is not None:
                    narrow.append(narrow_firsts[e])
                    narrow.extend(self._narrow_later_layer_weights(e, w[1:]))
        n_rows = aev.shape[-2]
        return torch.ops.nnpkit.ani_networks(
            aev,
            species[:n_rows],
            species.shape[0],
            weights,
            biases,
            n_layers,
            self.energy_offset,
            self.celu_alpha,
            narrow if narrow_firsts is not None else None,
            element_columns,
        )

    def _structural_first_layers(
        self, aev: torch.Tensor, species: torch.Tensor, active: torch.Tensor, firsts: List[torch.Tensor],
        narrow_firsts: Optional[List[torch.Tensor]],
    ) -> Optional[List[List[torch.Tensor]]]:
        """Where a species has one or two atoms (small molecules), per element the AEV
        columns its centres can have non-zero ([kept columns per element (empty: all),
        [a bool [n_species, D'] of the dropped ones], first layers over the kept columns,
        their float32 copies]), or None
        (nothing to drop, eager modules, or a dropped column is not zero in this AEV:
        periodic images of a lone atom). Dropped columns are exactly zero, with zero
        derivatives: no pair of theirs lies inside the cutoff."""
        if not torch.jit.is_scripting():
            return None
        counts = torch.bincount(species, minlength=self.n_species).clamp(max=3)
        counts_list: List[int] = counts.tolist()
        key = 0
        for s, c in enumerate(counts_list):
            key += c << (2 * s)
        if key in self._structural_layers:
            layers = self._structural_layers[key]
        else:
            layers = self._build_structural_layers(counts_list, active, firsts, narrow_firsts)
            if len(self._structural_layers) >= 32:  # as _keep_per_species_set (typed for flat lists)
                self._structural_layers.clear()
            self._structural_layers[key] = layers
        if len(layers) == 0:
            return None
        # Periodic images can give a lone atom neighbours of its own species: then the
        # dropped columns are not zero, and this call keeps all of them.
        rows = aev if aev.dim() == 2 else aev[0]
        dropped = layers[1][0].index_select(0, species[: rows.shape[0]])  # [n, D'] per row's element
        if bool(((rows != 0) & dropped).any()):
            return None
        return layers

    def _build_structural_layers(
        self, counts: List[int], active: torch.Tensor, firsts: List[torch.Tensor],
        narrow_firsts: Optional[List[torch.Tensor]],
    ) -> List[List[torch.Tensor]]:
        """:meth:`_structural_first_layers`'s lists for species counts ``counts``
        (capped at 3); empty when no element can drop a column."""
        active_species: List[int] = active.tolist()
        n_active = len(active_species)
        kept_all: List[torch.Tensor] = []
        dropped_rows: List[torch.Tensor] = []  # per element: which columns it drops
        first_all: List[torch.Tensor] = []
        narrow_all: List[torch.Tensor] = []
        width = n_active * self.n_radial + n_active * (n_active + 1) // 2 * self.angular_block
        any_dropped = False
        for e in range(self.n_species):
            if firsts[e].numel() == 0:
                kept_all.append(torch.empty(0, dtype=torch.int64))
                dropped_rows.append(torch.zeros(width, dtype=torch.bool))
                first_all.append(firsts[e])
                narrow_all.append(torch.empty(0, dtype=torch.float32))
                continue
            keep: List[bool] = []
            for a in range(n_active):  # radial blocks, in the compacted AEV's order
                others = counts[active_species[a]] - (1 if active_species[a] == e else 0)
                keep.extend([others >= 1] * self.n_radial)
            for a in range(n_active):  # angular pair blocks (a <= b), triu order
                for b in range(a, n_active):
                    sa, sb = active_species[a], active_species[b]
                    na = counts[sa] - (1 if sa == e else 0)
                    nb = counts[sb] - (1 if sb == e else 0)
                    possible = na >= 2 if sa == sb else (na >= 1 and nb >= 1)
                    keep.extend([possible] * self.angular_block)
            mask = torch.tensor(keep, dtype=torch.bool)
            dropped_rows.append(~mask)
            if bool(mask.all()):
                kept_all.append(torch.empty(0, dtype=torch.int64))
                first_all.append(firsts[e])
                narrow_all.append(narrow_firsts[e] if narrow_firsts is not None else torch.empty(0))
                continue
            any_dropped = True
            kept = torch.nonzero(mask).squeeze(1)
            kept_all.append(kept)
            # Rows of the [D', M*h1] first layer, in its layout (the model's [M, h1, D']
            # seen transposed: the few-row kernels' dot products read contiguous rows).
            first_all.append(firsts[e].t().index_select(1, kept).t())
            if narrow_firsts is not None and narrow_firsts[e].numel() > 0:  # the same rows of the exact copy
                narrow_all.append(narrow_firsts[e].t().index_select(1, kept).t())
            else:
                narrow_all.append(torch.empty(0, dtype=torch.float32))
        if not any_dropped:
            return []
        # Elements that drop nothing keep their layers; their column lists stay empty (all).
        device = firsts[0].device
        return [kept_all, [torch.stack(dropped_rows).to(device)], first_all, narrow_all]

    def _species_set_key(self, active: torch.Tensor) -> int:
        """A bit mask of the ``active`` species: the key of the per-species-set caches."""
        key = 0
        active_species: List[int] = active.tolist()
        for s in active_species:
            key += 1 << s
        return key

    def _narrow_first_layer_weights(self, firsts: List[torch.Tensor], key: int) -> Optional[List[torch.Tensor]]:
        """Per element, the float32 copy of its first layer ``firsts[e]`` (empty where
        not exact or not active), or None where no copies are kept (eager modules,
        float32 models)."""
        if not torch.jit.is_scripting() or self.energy_offset.dtype != torch.float64:
            return None
        if key in self._narrow_first_layers:
            return self._narrow_first_layers[key]
        return _keep_per_species_set(self._narrow_first_layers, key, [_exact_float32_copy(w) for w in firsts])

    def _narrow_later_layer_weights(self, element: int, later: List[torch.Tensor]) -> List[torch.Tensor]:
        """The float32 copies of an element's later layers ``later`` (cached per element)."""
        if element not in self._narrow_later_layers:
            self._narrow_later_layers[element] = [_exact_float32_copy(w) for w in later]
        return self._narrow_later_layers[element]

    def _first_layer_weights(self, active: torch.Tensor, columns: Optional[torch.Tensor], key: int) -> List[torch.Tensor]:
        """Per element, its first layer over the AEV columns of the ``active`` species
        (:meth:`ElementNetworks.first_layer_columns`; empty for elements not active);
        ``key``: :meth:`_species_set_key` of ``active``."""
        scripted = torch.jit.is_scripting()
        if scripted and key in self._first_layers:
            return self._first_layers[key]
        present = [False] * self.n_species
        active_species: List[int] = active.tolist()
        for s in active_species:
            present[s] = True
        out: List[torch.Tensor] = []
        for e, network in enumerate(self.networks):
            if present[e]:
                out.append(network.first_layer_columns(columns))
            else:
                out.append(torch.empty(0, dtype=self.energy_offset.dtype))
        if scripted:
            _keep_per_species_set(self._first_layers, key, out)
        return out
