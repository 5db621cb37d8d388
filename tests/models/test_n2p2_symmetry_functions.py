"""Every n2p2 symmetry-function type, subtype and cutoff type of the core operator
against a straightforward NumPy implementation of n2p2's published formulas
(Singraber et al. JCTC 2019; Bircher et al. 2021 for the compact types), plus
finite-difference checks of the analytic derivatives (backward and double backward)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnpkit  # noqa: F401  (registers the operators)
from nnpkit.models import symmetry_functions as sf
from n2p2_reference import SPECIES, Z, cluster, ref_value

RC = 4.2


def edges(pos: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Full edge list of an open cluster, grouped by centre, vectors differentiable in pos."""
    n = pos.shape[0]
    pairs = [(i, j) for i in range(n) for j in range(n)
             if i != j and float(torch.linalg.norm(pos[j] - pos[i]).detach()) < cutoff]
    index = torch.tensor(pairs, dtype=torch.int64).T.contiguous()
    return index, pos[index[1]] - pos[index[0]]


def evaluate(functions, pos_np: np.ndarray, symbols: list[str]):
    sf_set = sf.SymmetryFunctionSet(SPECIES, functions)
    module = sf.SymmetryFunctions(sf_set)
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
        sf.RadialSymmetryFunction("H", "O", 0.5, RC, 1.2, **kw),
        sf.RadialSymmetryFunction("O", "O", 0.3, RC - 0.5, 0.0, **kw),
        sf.AngularSymmetryFunction("H", ("O", "H"), 0.05, 2.0, -1.0, RC, 0.5, narrow=True, **kw),
        sf.AngularSymmetryFunction("O", ("H", "H"), 0.02, 1.0, 1.0, RC, narrow=False, **kw),
        sf.WeightedRadialSymmetryFunction("H", 0.4, RC, 1.0, **kw),
        sf.WeightedRadialSymmetryFunction("O", 0.1, RC - 0.3, 0.0, **kw),
        sf.WeightedAngularSymmetryFunction("H", 0.03, 3.0, 1.0, RC, 0.3, **kw),
        sf.WeightedAngularSymmetryFunction("O", 0.01, 1.5, -1.0, RC, 0.0, **kw),
    ]
    check(functions, seed=cutoff_type)


@pytest.mark.parametrize("subtype", ["p1", "p2", "p3", "p4", "p1a", "p2a", "p3a", "p4a", "e"])
def test_compact_types_every_subtype(subtype):
    functions = [
        sf.CompactRadialSymmetryFunction("H", "O", -RC, RC, subtype),
        sf.CompactRadialSymmetryFunction("O", "H", 1.0, 3.5, subtype),
        sf.CompactRadialSymmetryFunction("H", None, 0.5, RC, subtype),  # type 23
        sf.CompactAngularSymmetryFunction("H", ("O", "O"), -RC, RC, 0.0, 180.0, subtype, narrow=True),  # 21
        sf.CompactAngularSymmetryFunction("O", ("H", "O"), 0.8, RC, 30.0, 120.0, subtype, narrow=False),  # 22
        sf.CompactAngularSymmetryFunction("H", None, 1.2, RC, -60.0, 60.0, subtype, narrow=True),  # 24
        sf.CompactAngularSymmetryFunction("O", None, -RC, RC, 100.0, 260.0, subtype, narrow=False),  # 25
        sf.CompactAngularSymmetryFunction("O", None, 0.0, RC, 40.0, 150.0, subtype, narrow=False),  # 25
    ]
    assert [f.n2p2_type for f in functions] == [20, 20, 23, 21, 22, 24, 25, 25]
    check(functions, seed=3 + len(subtype))


def test_weighted_functions_are_weighted_sums_over_elements():
    """Type 12 equals sum_e Z_e * type 2 over neighbour elements e."""
    pos, symbols = cluster(11)
    other = sf.RadialSymmetryFunction("O", "O", 0.1, RC)
    weighted = [sf.WeightedRadialSymmetryFunction("H", 0.4, RC, 1.0), other]
    plain = [sf.RadialSymmetryFunction("H", e, 0.4, RC, 1.0) for e in SPECIES] + [other]
    G12 = evaluate(weighted, pos, symbols)[-1].detach()
    G2 = evaluate(plain, pos, symbols)[-1].detach()
    h = [i for i, s in enumerate(symbols) if s == "H"]
    np.testing.assert_allclose(G12[h, 0], Z["H"] * G2[h, 0] + Z["O"] * G2[h, 1], rtol=1e-13)


@pytest.mark.parametrize("bad,message", [
    (lambda: sf.CompactRadialSymmetryFunction("H", "O", 1.0, 3.0, "p5"), "subtype"),
    (lambda: sf.CompactRadialSymmetryFunction("H", "O", 3.0, 1.0, "p2"), "rl < rc"),
    (lambda: sf.CompactAngularSymmetryFunction("H", None, 0.0, 3.0, -10.0, 100.0, "p2"), "centred"),
    (lambda: sf.CompactAngularSymmetryFunction("H", None, 0.0, 3.0, 90.0, 90.0, "p2"), "angle_left < angle_right"),
    (lambda: sf.WeightedAngularSymmetryFunction("H", 0.1, 1.0, 0.5, 3.0), "lambda"),
])
def test_invalid_parameters_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        sf.SymmetryFunctionSet(SPECIES, [bad(), sf.RadialSymmetryFunction("O", "O", 0.1, 3.0)])
