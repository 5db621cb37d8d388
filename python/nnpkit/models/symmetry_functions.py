"""Behler-Parrinello symmetry-function sets and their torch module.

The numbers are computed by the C++ operator ``torch.ops.nnpkit.symmetry_functions``
(analytic derivatives); this file only describes which functions to compute.
Formulas and parameter meanings are n2p2's (types 2, 3 and 9; cutoff types 0-8
with the inner-cutoff fraction ``alpha``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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


@dataclass(frozen=True)
class RadialSymmetryFunction:
    """n2p2 type 2: G = sum_j exp(-eta (r_ij - rs)^2) fc(r_ij) over neighbours of one element."""

    center: str
    neighbor: str
    eta: float
    rc: float
    rs: float = 0.0
    cutoff_type: str | int = "cos"
    alpha: float = 0.0

    @property
    def n2p2_type(self) -> int:
        return 2


@dataclass(frozen=True)
class AngularSymmetryFunction:
    """n2p2 type 3 (``narrow``, Behler's G4) or type 9 (``wide``, G5) over neighbour pairs.

    G = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta exp(-eta sum (r - rs)^2) prod fc,
    the sums and products running over ij, ik (and jk for the narrow form).
    """

    center: str
    neighbors: tuple[str, str]
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
        return 3 if self.narrow else 9


SymmetryFunction = RadialSymmetryFunction | AngularSymmetryFunction


class SymmetryFunctionSet:
    """An ordered set of symmetry functions per centre element.

    Column c of an element's descriptor is the c-th function listed for that
    element, in the order given.
    """

    def __init__(self, species: Sequence[str], functions: Sequence[SymmetryFunction]) -> None:
        self.species = list(species)
        self.functions = list(functions)
        index = {s: i for i, s in enumerate(self.species)}
        self.n_per_element = [0] * len(self.species)
        rows_int, rows_real = [], []
        for f in self.functions:
            elements = [f.center] + ([f.neighbor] if isinstance(f, RadialSymmetryFunction) else list(f.neighbors))
            for e in elements:
                if e not in index:
                    raise ValueError(f"symmetry function {f} uses element '{e}', which is not in {self.species}")
            if f.rc <= 0:
                raise ValueError(f"symmetry function {f}: cutoff must be positive")
            if not 0.0 <= f.alpha < 1.0:
                raise ValueError(f"symmetry function {f}: need 0 <= alpha < 1")
            ce = index[f.center]
            column = self.n_per_element[ce]
            self.n_per_element[ce] += 1
            if isinstance(f, RadialSymmetryFunction):
                rows_int.append([ce, 2, index[f.neighbor], -1, _cutoff_code(f.cutoff_type), column])
                rows_real.append([f.eta, f.rs, f.rc, f.alpha, 0.0, 0.0])
            else:
                if f.lambda_ not in (-1.0, 1.0):
                    raise ValueError(f"symmetry function {f}: lambda must be +1 or -1")
                if f.zeta < 1.0:
                    raise ValueError(f"symmetry function {f}: zeta must be at least 1")
                e1, e2 = (index[n] for n in f.neighbors)
                rows_int.append([ce, f.n2p2_type, e1, e2, _cutoff_code(f.cutoff_type), column])
                rows_real.append([f.eta, f.rs, f.rc, f.alpha, f.zeta, f.lambda_])
        for s, n in zip(self.species, self.n_per_element):
            if n == 0:
                raise ValueError(f"element {s} has no symmetry functions")
        self.sf_int = torch.tensor(rows_int, dtype=torch.int64).reshape(-1, 6)
        self.sf_real = torch.tensor(rows_real, dtype=torch.float64).reshape(-1, 6)
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
        self, edge_vectors: torch.Tensor, edge_index: torch.Tensor, species: torch.Tensor, n_centers: int
    ) -> torch.Tensor:
        return torch.ops.nnpkit.symmetry_functions(
            edge_vectors, edge_index, species, self.sf_int, self.sf_real, n_centers, self.n_columns
        )
