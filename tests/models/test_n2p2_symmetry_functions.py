"""Every n2p2 symmetry-function type, subtype and cutoff type of the core operator
against a straightforward NumPy implementation of n2p2's published formulas
(Singraber et al. JCTC 2019; Bircher et al. 2021 for the compact types), plus
finite-difference checks of the analytic derivatives (backward and double backward)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnpkit  # noqa: F401  (registers the operators)
from nnpkit.models import (
    AngularSymmetryFunction,
    CompactAngularSymmetryFunction,
    CompactRadialSymmetryFunction,
    RadialSymmetryFunction,
    SymmetryFunctions,
    SymmetryFunctionSet,
    WeightedAngularSymmetryFunction,
    WeightedRadialSymmetryFunction,
)

SPECIES = ["H", "O"]
Z = {"H": 1, "O": 8}
RC = 4.2


# ------------------------------------------------------------------ reference


def ref_cutoff(kind: int, r: float, rc: float, alpha: float) -> float:
    if r >= rc:
        return 0.0
    if kind == 0:
        return 1.0
    if kind in (2, 3):
        value = math.tanh(1.0 - r / rc) ** 3
        return value / math.tanh(1.0) ** 3 if kind == 3 else value
    rci = alpha * rc
    if r < rci:
        return 1.0
    x = (r - rci) / (rc - rci)
    return {
        1: lambda: 0.5 * (math.cos(math.pi * x) + 1.0),
        4: lambda: math.exp(1.0 - 1.0 / (1.0 - x * x)),
        5: lambda: 1.0 - 3.0 * x**2 + 2.0 * x**3,
        6: lambda: 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5,
        7: lambda: 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7,
        8: lambda: 1.0 - 126.0 * x**5 + 420.0 * x**6 - 540.0 * x**7 + 315.0 * x**8 - 70.0 * x**9,
    }[kind]()


def ref_core(subtype: str, x: float) -> float:
    if subtype.endswith("a"):
        x, subtype = x * (2.0 - x), subtype[:-1]
    if subtype == "e":
        return math.exp(1.0 - 1.0 / (1.0 - x * x))
    return {"p1": 1.0 - 3.0 * x**2 + 2.0 * x**3,
            "p2": 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5,
            "p3": 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7,
            "p4": 1.0 - 126.0 * x**5 + 420.0 * x**6 - 540.0 * x**7 + 315.0 * x**8 - 70.0 * x**9}[subtype]


def ref_compact(subtype: str, a: float, left: float, right: float) -> float:
    x = abs(a - 0.5 * (left + right)) / (0.5 * (right - left))
    return ref_core(subtype, x) if x < 1.0 else 0.0


def ref_value(f, i: int, pos: np.ndarray, symbols: list[str]) -> float:
    """G of atom i, by direct sums over neighbours (open boundaries)."""
    n = len(pos)
    others = [j for j in range(n) if j != i]
    dist = lambda a, b: float(np.linalg.norm(pos[b] - pos[a]))  # noqa: E731
    t = f.n2p2_type
    total = 0.0
    if t in (2, 12):
        for j in others:
            if t == 2 and symbols[j] != f.neighbor:
                continue
            w = Z[symbols[j]] if t == 12 else 1.0
            r = dist(i, j)
            total += w * math.exp(-f.eta * (r - f.rs) ** 2) * ref_cutoff(f.cutoff_type, r, f.rc, f.alpha)
        return total
    if t in (20, 23):
        for j in others:
            if t == 20 and symbols[j] != f.neighbor:
                continue
            r = dist(i, j)
            if f.rl < r < f.rc:
                total += (Z[symbols[j]] if t == 23 else 1.0) * ref_compact(f.subtype, r, f.rl, f.rc)
        return total
    for a in range(len(others)):
        for b in range(a + 1, len(others)):
            j, k = others[a], others[b]
            neighbors = getattr(f, "neighbors", None)
            if neighbors is not None and sorted((symbols[j], symbols[k])) != sorted(neighbors):
                continue
            w = Z[symbols[j]] * Z[symbols[k]] if t in (13, 24, 25) else 1.0
            rij, rik, rjk = dist(i, j), dist(i, k), dist(j, k)
            cos = float(np.dot(pos[j] - pos[i], pos[k] - pos[i])) / (rij * rik)
            if t in (3, 9, 13):
                narrow = t != 9
                if narrow and rjk >= f.rc:
                    continue
                base = 1.0 + f.lambda_ * cos
                if base <= 0.0:
                    continue
                s = (rij - f.rs) ** 2 + (rik - f.rs) ** 2 + ((rjk - f.rs) ** 2 if narrow else 0.0)
                fc = ref_cutoff(f.cutoff_type, rij, f.rc, f.alpha) * ref_cutoff(f.cutoff_type, rik, f.rc, f.alpha)
                if narrow:
                    fc *= ref_cutoff(f.cutoff_type, rjk, f.rc, f.alpha)
                total += w * 2.0 ** (1.0 - f.zeta) * base**f.zeta * math.exp(-f.eta * s) * fc
            else:  # compact angular
                narrow = t in (21, 24)
                if not (f.rl < rij < f.rc and f.rl < rik < f.rc):
                    continue
                if narrow and not (max(f.rl, 0.0) < rjk < f.rc):
                    continue
                theta = math.degrees(math.acos(cos))
                if not f.angle_left <= theta <= f.angle_right:
                    continue
                radial = ref_compact(f.subtype, rij, f.rl, f.rc) * ref_compact(f.subtype, rik, f.rl, f.rc)
                if narrow:
                    radial *= ref_compact(f.subtype, rjk, f.rl, f.rc)
                angular = ref_compact(f.subtype.rstrip("a"), math.radians(theta), math.radians(f.angle_left),
                                      math.radians(f.angle_right))
                total += w * radial * angular
    return total


# ------------------------------------------------------------------ fixtures


def cluster(seed: int, n: int = 7) -> tuple[np.ndarray, list[str]]:
    """A compact random cluster with no close contacts and no collinear triplets."""
    rng = np.random.default_rng(seed)
    pos: list[np.ndarray] = []
    while len(pos) < n:
        trial = rng.uniform(0.0, 3.3, 3)
        if all(np.linalg.norm(trial - p) > 1.0 for p in pos):
            pos.append(trial)
    return np.array(pos), [SPECIES[i % 2] for i in range(n)]


def edges(pos: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Full edge list of an open cluster, grouped by centre, vectors differentiable in pos."""
    n = pos.shape[0]
    pairs = [(i, j) for i in range(n) for j in range(n)
             if i != j and float(torch.linalg.norm(pos[j] - pos[i]).detach()) < cutoff]
    index = torch.tensor(pairs, dtype=torch.int64).T.contiguous()
    return index, pos[index[1]] - pos[index[0]]


def evaluate(functions, pos_np: np.ndarray, symbols: list[str]):
    sf_set = SymmetryFunctionSet(SPECIES, functions)
    module = SymmetryFunctions(sf_set)
    species = torch.tensor([SPECIES.index(s) for s in symbols])
    pos = torch.tensor(pos_np, requires_grad=True)
    index, vectors = edges(pos, sf_set.cutoff + 1.0)
    G = module(vectors, index, species, len(symbols))
    return sf_set, module, species, pos, index, vectors, G


def check(functions, seed: int = 0) -> None:
    pos, symbols = cluster(seed)
    sf_set, module, species, pos_t, index, vectors, G = evaluate(functions, pos, symbols)
    expected = np.zeros(G.shape)
    for f, (element, column) in zip(sf_set.functions, sf_set.columns):
        for i, s in enumerate(symbols):
            if SPECIES.index(s) == element:
                expected[i, column] = ref_value(f, i, pos, symbols)
    assert np.abs(expected).max() > 1e-3  # the fixture exercises the functions
    np.testing.assert_allclose(G.detach().numpy(), expected, rtol=1e-10, atol=1e-12)

    # Backward: gradient of a random weighting of all G with respect to positions.
    weights = torch.from_numpy(np.random.default_rng(seed + 1).normal(size=G.shape))
    (grad,) = torch.autograd.grad((G * weights).sum(), pos_t)
    w = weights.numpy()
    numeric = np.zeros_like(pos)
    h = 1e-6
    for a in range(len(pos)):
        for c in range(3):
            shifted = []
            for sign in (1.0, -1.0):
                p = pos.copy()
                p[a, c] += sign * h
                vals = np.zeros(G.shape)
                for f, (element, column) in zip(sf_set.functions, sf_set.columns):
                    for i, s in enumerate(symbols):
                        if SPECIES.index(s) == element:
                            vals[i, column] = ref_value(f, i, p, symbols)
                shifted.append((vals * w).sum())
            numeric[a, c] = (shifted[0] - shifted[1]) / (2 * h)
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-7)

    # Double backward (the Jacobian-vector product used in force training).
    v = vectors.detach().clone().requires_grad_(True)
    seed_G = weights.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(module(v, index, species, len(symbols)), v, grad_outputs=seed_G, create_graph=True)
    tangent = torch.from_numpy(np.random.default_rng(seed + 2).normal(size=v.shape))
    (jvp,) = torch.autograd.grad((vjp * tangent).sum(), seed_G)
    eps = 1e-6
    with torch.no_grad():
        plus = module(v + eps * tangent, index, species, len(symbols))
        minus = module(v - eps * tangent, index, species, len(symbols))
    np.testing.assert_allclose(jvp.numpy(), ((plus - minus) / (2 * eps)).numpy(), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("cutoff_type,alpha", [(0, 0.0), (1, 0.0), (1, 0.3), (2, 0.0), (3, 0.0), (4, 0.2),
                                               (5, 0.0), (6, 0.4), (7, 0.1), (8, 0.0)])
def test_gaussian_types_every_cutoff(cutoff_type, alpha):
    kw = dict(cutoff_type=cutoff_type, alpha=alpha)
    functions = [
        RadialSymmetryFunction("H", "O", 0.5, RC, 1.2, **kw),
        RadialSymmetryFunction("O", "O", 0.3, RC - 0.5, 0.0, **kw),
        AngularSymmetryFunction("H", ("O", "H"), 0.05, 2.0, -1.0, RC, 0.5, narrow=True, **kw),
        AngularSymmetryFunction("O", ("H", "H"), 0.02, 1.0, 1.0, RC, narrow=False, **kw),
        WeightedRadialSymmetryFunction("H", 0.4, RC, 1.0, **kw),
        WeightedRadialSymmetryFunction("O", 0.1, RC - 0.3, 0.0, **kw),
        WeightedAngularSymmetryFunction("H", 0.03, 3.0, 1.0, RC, 0.3, **kw),
        WeightedAngularSymmetryFunction("O", 0.01, 1.5, -1.0, RC, 0.0, **kw),
    ]
    check(functions, seed=cutoff_type)


@pytest.mark.parametrize("subtype", ["p1", "p2", "p3", "p4", "p1a", "p2a", "p3a", "p4a", "e"])
def test_compact_types_every_subtype(subtype):
    functions = [
        CompactRadialSymmetryFunction("H", "O", -RC, RC, subtype),
        CompactRadialSymmetryFunction("O", "H", 1.0, 3.5, subtype),
        CompactRadialSymmetryFunction("H", None, 0.5, RC, subtype),  # type 23
        CompactAngularSymmetryFunction("H", ("O", "O"), -RC, RC, 0.0, 180.0, subtype, narrow=True),  # 21
        CompactAngularSymmetryFunction("O", ("H", "O"), 0.8, RC, 30.0, 120.0, subtype, narrow=False),  # 22
        CompactAngularSymmetryFunction("H", None, 1.2, RC, -60.0, 60.0, subtype, narrow=True),  # 24
        CompactAngularSymmetryFunction("O", None, -RC, RC, 100.0, 260.0, subtype, narrow=False),  # 25
        CompactAngularSymmetryFunction("O", None, 0.0, RC, 40.0, 150.0, subtype, narrow=False),  # 25
    ]
    assert [f.n2p2_type for f in functions] == [20, 20, 23, 21, 22, 24, 25, 25]
    check(functions, seed=3 + len(subtype))


def test_weighted_functions_are_weighted_sums_over_elements():
    """Type 12 equals sum_e Z_e * type 2 over neighbour elements e."""
    pos, symbols = cluster(11)
    other = RadialSymmetryFunction("O", "O", 0.1, RC)
    weighted = [WeightedRadialSymmetryFunction("H", 0.4, RC, 1.0), other]
    plain = [RadialSymmetryFunction("H", e, 0.4, RC, 1.0) for e in SPECIES] + [other]
    G12 = evaluate(weighted, pos, symbols)[-1].detach()
    G2 = evaluate(plain, pos, symbols)[-1].detach()
    h = [i for i, s in enumerate(symbols) if s == "H"]
    np.testing.assert_allclose(G12[h, 0], Z["H"] * G2[h, 0] + Z["O"] * G2[h, 1], rtol=1e-13)


@pytest.mark.parametrize("bad,message", [
    (lambda: CompactRadialSymmetryFunction("H", "O", 1.0, 3.0, "p5"), "subtype"),
    (lambda: CompactRadialSymmetryFunction("H", "O", 3.0, 1.0, "p2"), "rl < rc"),
    (lambda: CompactAngularSymmetryFunction("H", None, 0.0, 3.0, -10.0, 100.0, "p2"), "centred"),
    (lambda: CompactAngularSymmetryFunction("H", None, 0.0, 3.0, 90.0, 90.0, "p2"), "angle_left < angle_right"),
    (lambda: WeightedAngularSymmetryFunction("H", 0.1, 1.0, 0.5, 3.0), "lambda"),
])
def test_invalid_parameters_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        SymmetryFunctionSet(SPECIES, [bad(), RadialSymmetryFunction("O", "O", 0.1, 3.0)])
