"""The grouped CPU driver of the symmetry-function operator (the fast path that
every model uses) against the straightforward per-function driver it replaced
(``torch.ops.nnpkit.symmetry_functions_reference``), forward values and the
vector-Jacobian product, on dense periodic systems: many neighbours per element
block, same- and mixed-element pairs, narrow-only blocks (where pairs beyond the
j-k cutoff are pruned), mixed narrow/wide blocks, every Gaussian cutoff type,
the weighted and the compact types, three elements, float64 and float32.

Wide Gaussian functions of integer zeta up to 8 with |lambda| <= 1 are summed
through per-neighbour moments (csrc/core/angular_moments.h), not over pairs; they
are compared on their own for every such zeta, beside functions that stay with
the pairs (zeta 9, 2.5, lambda 1.5) and narrow ones writing the same elements."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnpkit import _core
from nnpkit.models import (
    AngularSymmetryFunction,
    CompactAngularSymmetryFunction,
    CompactRadialSymmetryFunction,
    RadialSymmetryFunction,
    SymmetryFunctionSet,
    WeightedAngularSymmetryFunction,
    WeightedRadialSymmetryFunction,
)

SPECIES = ["H", "C", "O"]
RC = 4.0


def dense_box(n: int, seed: int, length: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """n atoms at least 0.9 Angstrom apart in a skewed periodic cell."""
    rng = np.random.default_rng(seed)
    cell = np.diag([length, length, length]) + np.array([[0, 0, 0], [0.4, 0, 0], [0.2, -0.3, 0]])
    inverse = np.linalg.inv(cell)
    frac: list[np.ndarray] = []
    while len(frac) < n:
        f = rng.uniform(0, 1, size=3)
        if frac:
            d = np.array(frac) - f
            d -= np.round(d)
            if np.min(np.linalg.norm(d @ cell, axis=1)) < 0.9:
                continue
        frac.append(f)
    positions = np.array(frac) @ cell
    assert np.allclose(positions @ inverse, frac)
    symbols = list(rng.choice(SPECIES, size=n, p=[0.5, 0.25, 0.25]))
    return positions, cell, symbols


def gaussian_set(cutoff_type: str, alpha: float) -> SymmetryFunctionSet:
    fs = []
    for c in SPECIES:
        for nb in SPECIES:
            for eta, rs in ((0.8, 1.3), (0.05, 0.0), (0.3, 2.0)):
                fs.append(RadialSymmetryFunction(c, nb, eta, RC, rs=rs, cutoff_type=cutoff_type, alpha=alpha))
        for a in range(len(SPECIES)):
            for b in range(a, len(SPECIES)):
                pair = (SPECIES[a], SPECIES[b])
                narrow_only = (a + b) % 2 == 0  # some blocks all narrow (pruned), some mixed
                for eta in (0.02, 0.1):
                    for zeta in (1.0, 4.0, 2.5):
                        for lam in (-1.0, 1.0):
                            fs.append(AngularSymmetryFunction(c, pair, eta, zeta, lam, RC, rs=0.2, narrow=True,
                                                              cutoff_type=cutoff_type, alpha=alpha))
                if not narrow_only:
                    fs.append(AngularSymmetryFunction(c, pair, 0.05, 2.0, 1.0, RC * 0.8, narrow=False,
                                                      cutoff_type=cutoff_type, alpha=alpha))
                    fs.append(AngularSymmetryFunction(c, pair, 0.0, 16.0, -1.0, RC, narrow=False,
                                                      cutoff_type=cutoff_type, alpha=alpha))
    return SymmetryFunctionSet(SPECIES, fs)


def weighted_and_compact_set() -> SymmetryFunctionSet:
    fs = []
    for c in SPECIES:
        fs.append(WeightedRadialSymmetryFunction(c, 0.4, RC, rs=1.0, cutoff_type="poly2", alpha=0.1))
        fs.append(WeightedAngularSymmetryFunction(c, 0.05, 2.0, -1.0, RC, cutoff_type="cos"))
        for nb in SPECIES:
            for subtype in ("p1", "p2", "p3a", "p4", "e"):
                fs.append(CompactRadialSymmetryFunction(c, nb, 0.5, RC, subtype=subtype))
        for a in range(len(SPECIES)):
            for b in range(a, len(SPECIES)):
                pair = (SPECIES[a], SPECIES[b])
                for left, right in ((0.0, np.pi), (0.5, 2.0), (1.5, 3.0)):
                    fs.append(CompactAngularSymmetryFunction(c, pair, 0.0, RC, left, right, subtype="p2"))
                fs.append(CompactAngularSymmetryFunction(c, pair, 0.3, RC * 0.9, 0.2, 2.8, subtype="p3", narrow=True))
    return SymmetryFunctionSet(SPECIES, fs)


def compare(sf_set: SymmetryFunctionSet, dtype: torch.dtype, n: int = 90, length: float = 8.0, seed: int = 0,
            n_centers: int | None = None) -> None:
    positions, cell, symbols = dense_box(n, seed, length)
    ei, _, vec = _core.neighbor_list(positions, cell, [True] * 3, RC)
    assert ei.shape[1] / n > 20, "the test wants many neighbours per atom"
    species = torch.tensor([SPECIES.index(s) for s in symbols])
    vec = torch.tensor(vec, dtype=dtype)
    ei = torch.from_numpy(ei)
    centers = n if n_centers is None else n_centers
    args = (vec, ei, species, sf_set.sf_int, sf_set.sf_real, centers, sf_set.n_columns)
    fast = torch.ops.nnpkit.symmetry_functions(*args)
    seed = torch.randn(centers, sf_set.n_columns, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    reference = torch.ops.nnpkit.symmetry_functions_reference(*args, 0, seed)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-5)
    # Sums over thousands of triplets: compared relative to the largest value.
    g_scale = reference.abs().max().item()
    assert g_scale > 0.1
    torch.testing.assert_close(fast, reference, rtol=tol["rtol"], atol=tol["atol"] * g_scale)
    v = vec.clone().requires_grad_(True)
    (fast_vjp,) = torch.autograd.grad(torch.ops.nnpkit.symmetry_functions(v, *args[1:]), v, seed.to(dtype))
    reference_vjp = torch.ops.nnpkit.symmetry_functions_reference(*args, 1, seed)
    scale = reference_vjp.abs().max().item()
    assert scale > 1e-3
    # Compact angular terms carry 1/sin(theta): near-collinear triplets amplify
    # rounding, so the gradient is compared relative to its largest entry.
    torch.testing.assert_close(fast_vjp, reference_vjp, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, scale))


@pytest.mark.parametrize("cutoff_type", ["hard", "cos", "tanhu", "tanh", "exp", "poly1", "poly2", "poly3", "poly4"])
def test_grouped_equals_reference_for_every_cutoff_type(cutoff_type):
    alpha = 0.0 if cutoff_type in ("hard", "tanh", "tanhu") else 0.25
    compare(gaussian_set(cutoff_type, alpha), torch.float64, seed=1)


def test_grouped_equals_reference_for_weighted_and_compact_types():
    compare(weighted_and_compact_set(), torch.float64, seed=2)


def box_operands(sf_set: SymmetryFunctionSet, seed: int) -> tuple[np.ndarray, tuple, torch.Tensor]:
    """A dense 90-atom box's edge vectors (float64 NumPy), the operator's other
    arguments for all 90 centres, and a random seed of the outputs' shape."""
    positions, cell, symbols = dense_box(90, seed, 8.0)
    ei, _, vec = _core.neighbor_list(positions, cell, [True] * 3, RC)
    species = torch.tensor([SPECIES.index(s) for s in symbols])
    g = torch.randn(90, sf_set.n_columns, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return vec, (torch.from_numpy(ei), species, sf_set.sf_int, sf_set.sf_real, 90, sf_set.n_columns), g


@pytest.mark.parametrize("sf_set", [gaussian_set("tanhu", 0.0), weighted_and_compact_set()], ids=["gaussian", "compact"])
def test_grouped_single_precision_is_as_accurate_as_the_reference(sf_set):
    """float32: both drivers measured against the float64 values; the grouped one
    may not be less accurate (near-collinear compact angles make both err ~1e-3
    relative in the gradient, through 1/sin(theta))."""
    vec, rest, seed = box_operands(sf_set, 3)
    results = {}
    for dtype in (torch.float64, torch.float32):
        v = torch.tensor(vec, dtype=dtype, requires_grad=True)
        G = torch.ops.nnpkit.symmetry_functions(v, *rest)
        (vjp,) = torch.autograd.grad(G, v, seed.to(dtype))
        G_ref = torch.ops.nnpkit.symmetry_functions_reference(v.detach(), *rest, 0, seed)
        vjp_ref = torch.ops.nnpkit.symmetry_functions_reference(v.detach(), *rest, 1, seed)
        results[dtype] = [t.double() for t in (G.detach(), vjp, G_ref, vjp_ref)]
    exact_G, exact_vjp = results[torch.float64][2], results[torch.float64][3]
    G32, vjp32, G32_ref, vjp32_ref = results[torch.float32]
    for fast, ref, exact in ((G32, G32_ref, exact_G), (vjp32, vjp32_ref, exact_vjp)):
        scale = exact.abs().max().item()
        fast_error = (fast - exact).abs().max().item()
        ref_error = (ref - exact).abs().max().item()
        assert fast_error <= 2.0 * ref_error + 1e-6 * scale, (fast_error, ref_error)
        assert fast_error < 3e-3 * scale


def test_grouped_equals_reference_for_a_subset_of_centres_and_a_sparse_system():
    compare(gaussian_set("cos", 0.1), torch.float64, seed=4, n_centers=37)
    with pytest.raises(AssertionError, match="many neighbours"):
        compare(gaussian_set("cos", 0.1), torch.float64, n=6, length=20.0, seed=5)


def moment_set(rs: float, cutoff_type: str) -> SymmetryFunctionSet:
    """Every zeta the moment path takes (1..8), lambda -1 and 1, same- and
    mixed-element pairs, radial factors that several functions' moments share
    and one of their own (another eta and cutoff); and wide functions that stay
    with the pairs (zeta 9, zeta 2.5) and narrow ones in the same blocks."""
    fs = []
    for c in SPECIES:
        fs.append(RadialSymmetryFunction(c, "H", 0.5, RC, rs=1.0, cutoff_type=cutoff_type))
        for pair in (("H", "H"), ("H", "O"), ("C", "O"), ("O", "O")):
            for zeta in range(1, 9):
                for lam in (-1.0, 1.0):
                    fs.append(AngularSymmetryFunction(c, pair, 0.05, float(zeta), lam, RC, rs=rs, narrow=False,
                                                      cutoff_type=cutoff_type))
            fs.append(AngularSymmetryFunction(c, pair, 0.2, 3.0, -1.0, RC * 0.9, rs=rs, narrow=False,
                                              cutoff_type=cutoff_type))
            fs.append(AngularSymmetryFunction(c, pair, 0.05, 9.0, 1.0, RC, rs=rs, narrow=False,
                                              cutoff_type=cutoff_type))
            fs.append(AngularSymmetryFunction(c, pair, 0.05, 2.5, -1.0, RC, rs=rs, narrow=False,
                                              cutoff_type=cutoff_type))
            fs.append(AngularSymmetryFunction(c, pair, 0.1, 2.0, 1.0, RC, rs=rs, narrow=True,
                                              cutoff_type=cutoff_type))
    return SymmetryFunctionSet(SPECIES, fs)


@pytest.mark.parametrize("rs, cutoff_type", [(0.0, "cos"), (0.7, "poly2"), (0.3, "tanhu")])
def test_moment_functions_equal_the_pair_sums(rs, cutoff_type):
    compare(moment_set(rs, cutoff_type), torch.float64, seed=6)


def test_moment_functions_with_elements_without_functions_and_short_cutoffs():
    """Every edge's gradient is written (the output is not zeroed first): an element
    with no neighbour inside its cutoff, one whose functions end inside the list's
    cutoff, one with moment functions only."""
    from test_bp_committee_members import moments_only_set

    compare(moments_only_set(), torch.float64, seed=9)
    compare(moments_only_set(), torch.float64, seed=10, n_centers=41)


def test_moment_functions_in_single_precision_stay_accurate():
    """float32 inputs: the moments are summed in float64, so the expansion's
    cancellation (lambda = -1, zeta 8) costs no accuracy beyond the inputs'."""
    sf_set = moment_set(0.2, "cos")
    vec, rest, seed = box_operands(sf_set, 7)
    exact = torch.ops.nnpkit.symmetry_functions_reference(torch.tensor(vec), *rest, 0, seed)
    exact_vjp = torch.ops.nnpkit.symmetry_functions_reference(torch.tensor(vec), *rest, 1, seed)
    v = torch.tensor(vec, dtype=torch.float32, requires_grad=True)
    G = torch.ops.nnpkit.symmetry_functions(v, *rest)
    (vjp,) = torch.autograd.grad(G, v, seed.float())
    torch.testing.assert_close(G.double(), exact, rtol=1e-5, atol=1e-5 * exact.abs().max().item())
    torch.testing.assert_close(vjp.double(), exact_vjp, rtol=1e-4, atol=1e-5 * exact_vjp.abs().max().item())
