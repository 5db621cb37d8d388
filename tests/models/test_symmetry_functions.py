"""The symmetry-function operator against a straightforward NumPy transcription
of n2p2's published formulas, and its derivatives against finite differences."""

import math

import numpy as np
import pytest
import torch

from nnpkit import _core  # noqa: F401  (registers torch.ops.nnpkit)
from nnpkit.models import AngularSymmetryFunction, RadialSymmetryFunction, SymmetryFunctions, SymmetryFunctionSet
from nnpkit.models.symmetry_functions import CUTOFF_TYPES


def cutoff_reference(kind, r, rc, alpha):
    """n2p2 CutoffFunction, written out from its documentation."""
    if r >= rc:
        return 0.0
    if kind == "hard":
        return 1.0
    if kind == "tanhu":
        return math.tanh(1 - r / rc) ** 3
    if kind == "tanh":
        return (math.tanh(1 - r / rc) / math.tanh(1.0)) ** 3
    rci = alpha * rc
    if r < rci:
        return 1.0
    x = (r - rci) / (rc - rci)
    return {
        "cos": lambda: 0.5 * (math.cos(math.pi * x) + 1),
        "exp": lambda: math.exp(1 - 1 / (1 - x * x)),
        "poly1": lambda: (2 * x - 3) * x**2 + 1,
        "poly2": lambda: ((15 - 6 * x) * x - 10) * x**3 + 1,
        "poly3": lambda: (x * (x * (20 * x - 70) + 84) - 35) * x**4 + 1,
        "poly4": lambda: (x * (x * ((315 - 70 * x) * x - 540) + 420) - 126) * x**5 + 1,
    }[kind]()


def reference_descriptors(positions, symbols, functions, species):
    """G[i, c] by explicit loops over neighbours (open boundaries)."""
    n = len(positions)
    per_element = {s: [f for f in functions if f.center == s] for s in species}
    G = np.zeros((n, max(len(v) for v in per_element.values())))
    for i in range(n):
        for c, f in enumerate(per_element[symbols[i]]):
            total = 0.0
            others = [j for j in range(n) if j != i]
            if isinstance(f, RadialSymmetryFunction):
                for j in others:
                    if symbols[j] != f.neighbor:
                        continue
                    r = np.linalg.norm(positions[j] - positions[i])
                    total += math.exp(-f.eta * (r - f.rs) ** 2) * cutoff_reference(f.cutoff_type, r, f.rc, f.alpha)
            else:
                for a, j in enumerate(others):
                    for k in others[a + 1:]:
                        if sorted((symbols[j], symbols[k])) != sorted(f.neighbors):
                            continue
                        rij_v, rik_v = positions[j] - positions[i], positions[k] - positions[i]
                        rij, rik = np.linalg.norm(rij_v), np.linalg.norm(rik_v)
                        rjk = np.linalg.norm(positions[k] - positions[j])
                        cos = rij_v @ rik_v / (rij * rik)
                        base = 1 + f.lambda_ * cos
                        if base <= 0:
                            continue
                        fc = cutoff_reference(f.cutoff_type, rij, f.rc, f.alpha) * cutoff_reference(
                            f.cutoff_type, rik, f.rc, f.alpha)
                        exponent = (rij - f.rs) ** 2 + (rik - f.rs) ** 2
                        if f.narrow:
                            fc *= cutoff_reference(f.cutoff_type, rjk, f.rc, f.alpha)
                            exponent += (rjk - f.rs) ** 2
                        total += 2 ** (1 - f.zeta) * base**f.zeta * math.exp(-f.eta * exponent) * fc
            G[i, c] = total
    return G


def cluster(n=9, seed=0, box=5.0):
    rng = np.random.default_rng(seed)
    while True:
        x = rng.uniform(0, box, size=(n, 3))
        d = np.linalg.norm(x[:, None] - x[None], axis=-1) + np.eye(n) * 10
        if d.min() > 1.0:
            return x


def function_set(cutoff_type, species=("H", "O"), rc=4.2, alpha=0.0):
    fs = []
    for c in species:
        for nb in species:
            fs.append(RadialSymmetryFunction(c, nb, 0.5, rc, rs=1.2, cutoff_type=cutoff_type, alpha=alpha))
            fs.append(RadialSymmetryFunction(c, nb, 0.05, rc, cutoff_type=cutoff_type, alpha=alpha))
        for pair in [("H", "H"), ("H", "O"), ("O", "O")]:
            for narrow in (False, True):
                for lam in (-1.0, 1.0):
                    fs.append(AngularSymmetryFunction(c, pair, 0.03, 2.0 if narrow else 1.0, lam, rc, rs=0.3 * narrow,
                                                      narrow=narrow, cutoff_type=cutoff_type, alpha=alpha))
            fs.append(AngularSymmetryFunction(c, pair, 0.01, 4.5, 1.0, rc, cutoff_type=cutoff_type, alpha=alpha))
    return SymmetryFunctionSet(list(species), fs)


def op_inputs(positions, symbols, sf_set, dtype=torch.float64):
    species = torch.tensor([sf_set.species.index(s) for s in symbols])
    cutoff = max(f.rc for f in sf_set.functions)
    ei, _, vec = _core.neighbor_list(positions, np.zeros((3, 3)), [False] * 3, cutoff)
    return species, torch.from_numpy(ei), torch.tensor(vec, dtype=dtype)


@pytest.mark.parametrize("cutoff_type", sorted(CUTOFF_TYPES))
def test_values_match_reference_for_every_cutoff_type(cutoff_type):
    alpha = 0.3 if cutoff_type not in ("hard", "tanh", "tanhu") else 0.0
    sf_set = function_set(cutoff_type, alpha=alpha)
    positions = cluster()
    symbols = ["H", "O", "H"] * 3
    species, ei, vec = op_inputs(positions, symbols, sf_set)
    got = SymmetryFunctions(sf_set)(vec, ei, species, len(symbols)).numpy()
    expected = reference_descriptors(positions, symbols, sf_set.functions, sf_set.species)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cutoff_type", ["cos", "tanh", "exp", "poly2", "poly4"])
def test_gradient_matches_finite_differences(cutoff_type):
    sf_set = function_set(cutoff_type, alpha=0.2 if cutoff_type in ("cos", "exp", "poly2", "poly4") else 0.0)
    positions = cluster(7, seed=1, box=4.0)
    symbols = ["O", "H", "H", "O", "H", "H", "O"]
    species, ei, vec = op_inputs(positions, symbols, sf_set)
    module = SymmetryFunctions(sf_set)
    vec.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: module(v, ei, species, len(symbols)), (vec,), eps=1e-6, atol=1e-7)


def test_double_backward_with_respect_to_the_seed_is_the_jvp():
    """Force training differentiates dE/dr with respect to network outputs: that is the JVP."""
    sf_set = function_set("cos")
    positions = cluster(8, seed=2)
    symbols = ["H", "O"] * 4
    species, ei, vec = op_inputs(positions, symbols, sf_set)
    module = SymmetryFunctions(sf_set)
    vec.requires_grad_(True)
    G = module(vec, ei, species, len(symbols))
    seed = torch.randn_like(G, requires_grad=True)
    (vjp,) = torch.autograd.grad(G, vec, seed, create_graph=True)
    tangent = torch.randn_like(vec)
    (jvp_from_autograd,) = torch.autograd.grad(vjp, seed, tangent)
    h = 1e-6
    with torch.no_grad():
        numeric = (module(vec + h * tangent, ei, species, len(symbols)) - module(vec - h * tangent, ei, species,
                                                                                 len(symbols))) / (2 * h)
    torch.testing.assert_close(jvp_from_autograd, numeric, rtol=1e-6, atol=1e-8)


def test_second_derivative_with_respect_to_positions_is_refused_clearly():
    sf_set = function_set("cos")
    positions = cluster(5, seed=3)
    species, ei, vec = op_inputs(positions, ["H", "O", "H", "O", "H"], sf_set)
    vec.requires_grad_(True)
    G = SymmetryFunctions(sf_set)(vec, ei, species, 5)
    (g,) = torch.autograd.grad(G.sum(), vec, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(g.pow(2).sum(), vec)


def test_single_precision_agrees_with_double():
    sf_set = function_set("poly2", alpha=0.1)
    positions = cluster(9, seed=4)
    symbols = ["O", "H", "H"] * 3
    species, ei, vec = op_inputs(positions, symbols, sf_set)
    module = SymmetryFunctions(sf_set)
    g64 = module(vec, ei, species, 9)
    g32 = module(vec.float(), ei, species, 9)
    assert g32.dtype == torch.float32
    torch.testing.assert_close(g32.double(), g64, rtol=1e-5, atol=1e-6)


def test_only_the_first_n_centers_are_computed():
    sf_set = function_set("cos")
    positions = cluster(6, seed=5)
    symbols = ["H", "O"] * 3
    species, ei, vec = op_inputs(positions, symbols, sf_set)
    module = SymmetryFunctions(sf_set)
    torch.testing.assert_close(module(vec, ei, species, 4), module(vec, ei, species, 6)[:4])


def test_malformed_edges_are_refused():
    sf_set = function_set("cos")
    positions = cluster(4, seed=6)
    species, ei, vec = op_inputs(positions, ["H", "O", "H", "O"], sf_set)
    module = SymmetryFunctions(sf_set)
    with pytest.raises(RuntimeError, match="grouped by centre"):
        module(vec.flip(0), ei.flip(1), species, 4)
    bad = ei.clone()
    bad[1, 0] = 99
    with pytest.raises(RuntimeError, match="outside"):
        module(vec, bad, species, 4)
