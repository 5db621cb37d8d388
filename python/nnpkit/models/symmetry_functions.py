"""Behler-Parrinello symmetry-function sets and their torch module.

The numbers are computed by the C++ operator ``torch.ops.nnpkit.symmetry_functions``
(analytic derivatives); this file only describes which functions to compute.
Formulas and parameter meanings are n2p2's: the Gaussian types 2, 3 and 9 and their
element-weighted forms 12 and 13 (cutoff types 0-8 with the inner-cutoff fraction
``alpha``), and the compact polynomial types 20-25 (subtypes ``p1``-``p4``, their
asymmetric forms ``p1a``-``p4a``, and ``e``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch

#: n2p2's cutoff-function numbering (``cutoff_type`` in input.nn).
CUTOFF_TYPES: dict[str, int] = {
    "hard": 0,
    "cos": 1,
    "tanhu": 2,
    "tanh": 3,
    "exp": 4,
    "poly1": 5,
    "poly2": 6,
    "poly3": 7,
    "poly4": 8,
}


def _cutoff_code(cutoff_type: str | int) -> int:
    if isinstance(cutoff_type, int):
        if cutoff_type not in CUTOFF_TYPES.values():
            raise ValueError(f"unknown cutoff type {cutoff_type} (n2p2 types are 0..8)")
        return cutoff_type
    if cutoff_type not in CUTOFF_TYPES:
        raise ValueError(f"unknown cutoff type '{cutoff_type}' (known: {', '.join(CUTOFF_TYPES)})")
    return CUTOFF_TYPES[cutoff_type]


#: Core functions of the compact (polynomial) symmetry functions, by n2p2 subtype letter.
CORE_FUNCTIONS: dict[str, int] = {"p1": 0, "p2": 1, "p3": 2, "p4": 3, "e": 4}


def parse_compact_subtype(subtype: str) -> tuple[int, bool]:
    """(core function code, asymmetric) of an n2p2 compact subtype: 'p1'..'p4',
    'p1a'..'p4a' (asymmetric radial part) or 'e'."""
    asymmetric = len(subtype) == 3 and subtype.startswith("p") and subtype.endswith("a")
    base = subtype[:2] if asymmetric else subtype
    if base not in CORE_FUNCTIONS or (base == "e" and len(subtype) != 1):
        raise ValueError(f"unknown compact symmetry-function subtype '{subtype}' (known: p1-p4, p1a-p4a, e)")
    return CORE_FUNCTIONS[base], asymmetric


# One table row: (sf_int without the column, sf_real). See csrc/core/symmetry_functions.h.
_Row = tuple[list[int], list[float]]


def _gaussian_row(centre: int, type_: int, e1: int, e2: int, f, weight: float = 1.0) -> _Row:
    return ([centre, type_, e1, e2, _cutoff_code(f.cutoff_type)],
            [f.eta, f.rs, f.rc, f.alpha, getattr(f, "zeta", 0.0), getattr(f, "lambda_", 0.0), weight, 0.0, 0.0])


def _check_cutoff(f) -> None:
    if f.rc <= 0:
        raise ValueError(f"symmetry function {f}: cutoff must be positive")
    if not 0.0 <= f.alpha < 1.0:
        raise ValueError(f"symmetry function {f}: need 0 <= alpha < 1")
    _cutoff_code(f.cutoff_type)


def _check_angular(f) -> None:
    if f.lambda_ not in (-1.0, 1.0):
        raise ValueError(f"symmetry function {f}: lambda must be +1 or -1")
    if f.zeta < 1.0:
        raise ValueError(f"symmetry function {f}: zeta must be at least 1")
    if f.neighbors is None and not f.narrow:
        raise ValueError(f"symmetry function {f}: the element-weighted angular function (type 13) is narrow only")


def _check_compact(f, angular: bool) -> None:
    parse_compact_subtype(f.subtype)
    if not f.rl < f.rc:
        raise ValueError(f"symmetry function {f}: need rl < rc")
    if f.rc <= 0:
        raise ValueError(f"symmetry function {f}: rc must be positive")
    if angular:
        left, right = f.angle_left, f.angle_right
        centre = 0.5 * (left + right)
        if not left < right:
            raise ValueError(f"symmetry function {f}: need angle_left < angle_right")
        if (left < 0.0 and centre != 0.0) or (right > 180.0 and centre != 180.0) or right - left > 360.0:
            raise ValueError(f"symmetry function {f}: angles outside [0, 180] are only allowed for an interval "
                             "centred at 0 or 180 degrees and at most 360 degrees wide")


def _compact_row(centre: int, type_: int, e1: int, e2: int, f, weight: float = 1.0) -> _Row:
    core, asymmetric = parse_compact_subtype(f.subtype)
    angles = (math.radians(getattr(f, "angle_left", 0.0)), math.radians(getattr(f, "angle_right", 0.0)))
    return ([centre, type_, e1, e2, core, int(asymmetric)], [0.0, f.rl, f.rc, 0.0, 0.0, 0.0, weight, *angles])


def _element_pairs(species: Sequence[str]) -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(species)) for b in range(a, len(species))]


def _radial_rows(f, index: dict[str, int], atomic_numbers: dict[str, int], row) -> list[_Row]:
    """The table rows of a radial function ``f``: over the neighbours of one element
    (``f.neighbor``), or, with ``neighbor=None``, over all neighbours, element by
    element, weighted by Z_j. ``row`` writes one row (Gaussian or compact)."""
    c, t = index[f.center], f.n2p2_type
    if f.neighbor is not None:
        return [row(c, t, index[f.neighbor], -1, f)]
    return [row(c, t, index[s], -1, f, weight=float(atomic_numbers[s])) for s in index]


def _angular_rows(f, index: dict[str, int], atomic_numbers: dict[str, int], row) -> list[_Row]:
    """The table rows of an angular function ``f``: over neighbour pairs of two elements
    (``f.neighbors``), or, with ``neighbors=None``, over all pairs, element pair by
    element pair, weighted by Z_j Z_k."""
    c, t = index[f.center], f.n2p2_type
    if f.neighbors is not None:
        e1, e2 = sorted(index[n] for n in f.neighbors)
        return [row(c, t, e1, e2, f)]
    names = list(index)
    return [row(c, t, index[names[a]], index[names[b]], f,
                weight=float(atomic_numbers[names[a]] * atomic_numbers[names[b]]))
            for a, b in _element_pairs(names)]


@dataclass(frozen=True)
class RadialSymmetryFunction:
    """n2p2 type 2: G = sum_j exp(-eta (r_ij - rs)^2) fc(r_ij) over neighbours of one
    element; type 12 (``neighbor=None``, :func:`WeightedRadialSymmetryFunction`) sums
    over all neighbours weighted by Z_j."""

    center: str
    neighbor: str | None
    eta: float
    rc: float
    rs: float = 0.0
    cutoff_type: str | int = "cos"
    alpha: float = 0.0

    @property
    def n2p2_type(self) -> int:
        return 2 if self.neighbor is not None else 12

    def table_rows(self, index: dict[str, int], atomic_numbers: dict[str, int]) -> list[_Row]:
        _check_cutoff(self)
        return _radial_rows(self, index, atomic_numbers, _gaussian_row)


@dataclass(frozen=True)
class AngularSymmetryFunction:
    """n2p2 type 3 (``narrow``, Behler's G4) or type 9 (``wide``, G5) over neighbour pairs.

    G = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta exp(-eta sum (r - rs)^2) prod fc,
    the sums and products running over ij, ik (and jk for the narrow form). Type 13
    (``neighbors=None``, narrow, :func:`WeightedAngularSymmetryFunction`) runs over all
    neighbour pairs, each weighted by Z_j Z_k.
    """

    center: str
    neighbors: tuple[str, str] | None
    eta: float
    zeta: float
    lambda_: float
    rc: float
    rs: float = 0.0
    narrow: bool = False
    cutoff_type: str | int = "cos"
    alpha: float = 0.0

    @property
    def n2p2_type(self) -> int:
        if self.neighbors is None:
            return 13
        return 3 if self.narrow else 9

    def table_rows(self, index: dict[str, int], atomic_numbers: dict[str, int]) -> list[_Row]:
        _check_cutoff(self)
        _check_angular(self)
        return _angular_rows(self, index, atomic_numbers, _gaussian_row)


def WeightedRadialSymmetryFunction(center: str, eta: float, rc: float, *args, **kwargs) -> RadialSymmetryFunction:
    """n2p2 type 12: G = sum_j Z_j exp(-eta (r_ij - rs)^2) fc(r_ij) over all neighbours, the
    radial function with ``neighbor=None`` (``rs``, ``cutoff_type``, ``alpha`` as there)."""
    return RadialSymmetryFunction(center, None, eta, rc, *args, **kwargs)


def WeightedAngularSymmetryFunction(center: str, eta: float, zeta: float, lambda_: float, rc: float, rs: float = 0.0,
                                    cutoff_type: str | int = "cos", alpha: float = 0.0) -> AngularSymmetryFunction:
    """n2p2 type 13: the narrow angular function (type 3) over all neighbour pairs, each
    pair weighted by Z_j Z_k: the angular function with ``neighbors=None``."""
    return AngularSymmetryFunction(center, None, eta, zeta, lambda_, rc, rs, True, cutoff_type, alpha)


@dataclass(frozen=True)
class CompactRadialSymmetryFunction:
    """n2p2 type 20: G = sum_j f(r_ij) over neighbours of one element, f the compact
    function of subtype ``subtype`` on (rl, rc). Type 23 (``neighbor=None``) sums over
    all neighbours weighted by Z_j."""

    center: str
    neighbor: str | None
    rl: float
    rc: float
    subtype: str = "p2"

    @property
    def n2p2_type(self) -> int:
        return 20 if self.neighbor is not None else 23

    def table_rows(self, index: dict[str, int], atomic_numbers: dict[str, int]) -> list[_Row]:
        _check_compact(self, angular=False)
        return _radial_rows(self, index, atomic_numbers, _compact_row)


@dataclass(frozen=True)
class CompactAngularSymmetryFunction:
    """n2p2 types 21 (narrow) and 22 (wide): G = sum_{j<k} f(r_ij) f(r_ik) [f(r_jk)] g(theta_ijk)
    with f the compact function of ``subtype`` on (rl, rc) and g the symmetric compact
    function of the same core on [angle_left, angle_right] (degrees). Types 24 and 25
    (``neighbors=None``) sum over all pairs weighted by Z_j Z_k."""

    center: str
    neighbors: tuple[str, str] | None
    rl: float
    rc: float
    angle_left: float
    angle_right: float
    subtype: str = "p2"
    narrow: bool = False

    @property
    def n2p2_type(self) -> int:
        if self.neighbors is None:
            return 24 if self.narrow else 25
        return 21 if self.narrow else 22

    def table_rows(self, index: dict[str, int], atomic_numbers: dict[str, int]) -> list[_Row]:
        _check_compact(self, angular=True)
        return _angular_rows(self, index, atomic_numbers, _compact_row)


SymmetryFunction = Union[
    RadialSymmetryFunction,
    AngularSymmetryFunction,
    CompactRadialSymmetryFunction,
    CompactAngularSymmetryFunction,
]


def _neighbour_elements(f) -> list[str]:
    if getattr(f, "neighbor", None) is not None:
        return [f.neighbor]
    return list(getattr(f, "neighbors", None) or [])


class SymmetryFunctionSet:
    """An ordered set of symmetry functions per centre element.

    Column c of an element's descriptor is the c-th function listed for that
    element, in the order given.
    """

    def __init__(self, species: Sequence[str], functions: Sequence[SymmetryFunction]) -> None:
        from ase.data import atomic_numbers as z_table

        self.species = list(species)
        self.functions = list(functions)
        index = {s: i for i, s in enumerate(self.species)}
        for s in self.species:
            if s not in z_table:
                raise ValueError(f"'{s}' is not a chemical element symbol")
        atomic_numbers = {s: int(z_table[s]) for s in self.species}
        self.n_per_element = [0] * len(self.species)
        #: (element index, column) of each function, in the order given
        self.columns: list[tuple[int, int]] = []
        rows_int, rows_real = [], []
        for f in self.functions:
            for e in [f.center] + _neighbour_elements(f):
                if e not in index:
                    raise ValueError(f"symmetry function {f} uses element '{e}', which is not in {self.species}")
            ce = index[f.center]
            column = self.n_per_element[ce]
            self.n_per_element[ce] += 1
            self.columns.append((ce, column))
            for row_int, row_real in f.table_rows(index, atomic_numbers):
                rows_int.append(row_int[:5] + [column] + (row_int[5:] or [0]))
                rows_real.append(row_real)
        for s, n in zip(self.species, self.n_per_element):
            if n == 0:
                raise ValueError(f"element {s} has no symmetry functions")
        self.sf_int = torch.tensor(rows_int, dtype=torch.int64).reshape(-1, 7)
        self.sf_real = torch.tensor(rows_real, dtype=torch.float64).reshape(-1, 9)
        self.n_columns = max(self.n_per_element)
        self.cutoff = max(f.rc for f in self.functions)

    def __len__(self) -> int:
        return len(self.functions)

    @classmethod
    def standard(
        cls,
        species: Sequence[str],
        cutoff: float,
        n_radial: int = 8,
        r_min: float = 1.0,
        zetas: Sequence[float] = (1.0, 4.0),
        angular_etas: Sequence[float] = (0.0, 0.02),
        cutoff_type: str = "cos",
    ) -> "SymmetryFunctionSet":
        """A common general-purpose set: shifted radial Gaussians on an even grid from
        ``r_min`` to the cutoff for every element pair, and wide angular functions
        (type 9) with lambda = +-1 for every neighbour pair."""
        functions: list[SymmetryFunction] = []
        shifts = np.linspace(r_min, cutoff, n_radial, endpoint=False)
        spacing = shifts[1] - shifts[0] if n_radial > 1 else cutoff
        eta = 1.0 / (2.0 * spacing**2)
        for c in species:
            for n in species:
                for rs in shifts:
                    functions.append(RadialSymmetryFunction(c, n, float(eta), cutoff, float(rs), cutoff_type))
            for a in range(len(species)):
                for b in range(a, len(species)):
                    for eta_a in angular_etas:
                        for zeta in zetas:
                            for lam in (-1.0, 1.0):
                                functions.append(
                                    AngularSymmetryFunction(
                                        c, (species[a], species[b]), eta_a, zeta, lam, cutoff, cutoff_type=cutoff_type
                                    )
                                )
        return cls(species, functions)


class SymmetryFunctions(torch.nn.Module):
    """Computes a :class:`SymmetryFunctionSet` for the first ``n_centers`` atoms."""

    def __init__(self, sf_set: SymmetryFunctionSet) -> None:
        super().__init__()
        self.register_buffer("sf_int", sf_set.sf_int.clone())
        self.register_buffer("sf_real", sf_set.sf_real.clone())
        self.n_columns = sf_set.n_columns

    def forward(
        self,
        edge_vectors: torch.Tensor,
        edge_index: torch.Tensor,
        species: torch.Tensor,
        n_centers: int,
        length_scale: float = 1.0,
    ) -> torch.Tensor:
        """The functions of ``length_scale * edge_vectors`` ([E, 3], or member copies
        [M, E, 3], which the operator scales without an [M, E, 3] product)."""
        return torch.ops.nnpkit.symmetry_functions(
            edge_vectors, edge_index, species, self.sf_int, self.sf_real, n_centers, self.n_columns, length_scale
        )
