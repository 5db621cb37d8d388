"""Committee statistics of Behler-Parrinello models from one backward pass.

The symmetry-function operator takes member copies of the edge vectors ``[M, E, 3]``:
the functions are computed once (from copy 0) and the backward takes M seeds at
once, building each centre's Jacobian once and contracting it with every seed.
Checked here against the straightforward path, one single-seed backward per member:

- the operator: member gradients equal per-member VJPs (1e-12 in float64, and as
  accurate in float32) for every symmetry-function type the grouped driver handles,
  two and three elements, several committee sizes, a subset of centres;
- ``BehlerParrinelloModel.forward_members``: the energies of ``forward`` and each
  member's own gradient;
- the runner: energy_std, forces_std, member energies and forces equal those of the
  same committee without ``forward_members`` (one backward pass per member);
- the single-seed path keeps its double backward (force training); the batched one
  refuses it with a clear message.
"""

from typing import List

import numpy as np
import pytest
import torch
from conftest import make_bp, random_triclinic
from test_grouped_symmetry_functions import RC, SPECIES, dense_box, gaussian_set, weighted_and_compact_set

import nnpkit
from nnpkit import _core
from nnpkit.models import AngularSymmetryFunction, RadialSymmetryFunction, SymmetryFunctionSet


def two_element_set() -> SymmetryFunctionSet:
    """H and O only: radial, narrow and wide angular functions, poly2 cutoff."""
    species = ["H", "O"]
    fs = []
    for c in species:
        for nb in species:
            for eta, rs in ((0.5, 1.0), (0.05, 0.0)):
                fs.append(RadialSymmetryFunction(c, nb, eta, RC, rs=rs, cutoff_type="poly2", alpha=0.2))
        for pair in (("H", "H"), ("H", "O"), ("O", "O")):
            for zeta, lam in ((1.0, -1.0), (4.0, 1.0)):
                fs.append(AngularSymmetryFunction(c, pair, 0.03, zeta, lam, RC, narrow=True, cutoff_type="poly2",
                                                  alpha=0.2))
            fs.append(AngularSymmetryFunction(c, pair, 0.01, 2.0, 1.0, RC, narrow=False, cutoff_type="poly2",
                                              alpha=0.2))
    return SymmetryFunctionSet(species, fs)


def system(n_species: int, seed: int = 0, n: int = 70):
    positions, cell, symbols = dense_box(n, seed, 7.5)
    ei, _, vec = _core.neighbor_list(positions, cell, [True] * 3, RC)
    species = torch.tensor([SPECIES.index(s) % n_species for s in symbols])
    return torch.from_numpy(ei), species, vec


def member_gradients(sf_set: SymmetryFunctionSet, dtype: torch.dtype, n_members: int, n_species: int,
                     n_centers: int | None = None, seed: int = 0):
    """(batched [M, E, 3], per-member [M, E, 3], forward values batched, single) for random seeds."""
    ei, species, vec = system(n_species, seed)
    centers = len(species) if n_centers is None else n_centers
    rest = (ei, species, sf_set.sf_int, sf_set.sf_real, centers, sf_set.n_columns)
    seeds = torch.randn(n_members, centers, sf_set.n_columns, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed + 10)).to(dtype)
    vectors = torch.tensor(vec, dtype=dtype)
    copies = vectors.unsqueeze(0).expand(n_members, -1, -1).detach().requires_grad_(True)
    G_members = torch.ops.nnpkit.symmetry_functions(copies, *rest)
    (batched,) = torch.autograd.grad(G_members, copies, seeds)
    single = vectors.clone().requires_grad_(True)
    G = torch.ops.nnpkit.symmetry_functions(single, *rest)
    per_member = torch.stack([torch.autograd.grad(G, single, seeds[m], retain_graph=True)[0]
                              for m in range(n_members)])
    return batched, per_member, G_members.detach(), G.detach()


def moments_only_set() -> SymmetryFunctionSet:
    """H: only wide functions of integer zeta (all through moments: no Jacobian rows
    in the member pass); O: radial and wide ones inside 0.6 RC (edges of the list
    beyond its cutoff); C: one radial function inside 0.8 A, closer than any two
    atoms (no neighbour inside its cutoff: its edges' gradients are zero)."""
    fs = []
    for pair in (("H", "H"), ("H", "O"), ("C", "O")):
        for zeta, lam in ((1.0, -1.0), (3.0, 1.0), (6.0, -1.0)):
            fs.append(AngularSymmetryFunction("H", pair, 0.05, zeta, lam, RC, narrow=False))
    fs.append(RadialSymmetryFunction("O", "H", 0.3, 0.6 * RC, rs=0.5))
    fs.append(AngularSymmetryFunction("O", ("H", "H"), 0.02, 2.0, 1.0, 0.6 * RC, narrow=False))
    fs.append(RadialSymmetryFunction("C", "O", 0.3, 0.8))
    return SymmetryFunctionSet(SPECIES, fs)


SETS = {
    "moments-only": (moments_only_set, 3),
    "gaussian-cos": (lambda: gaussian_set("cos", 0.25), 3),
    "gaussian-tanh": (lambda: gaussian_set("tanh", 0.0), 3),
    "gaussian-poly4": (lambda: gaussian_set("poly4", 0.1), 3),
    "weighted-compact": (weighted_and_compact_set, 3),
    "two-elements": (two_element_set, 2),
}


@pytest.mark.parametrize("n_members", [1, 3, 8])
@pytest.mark.parametrize("name", list(SETS))
def test_member_gradients_equal_per_member_backward(name, n_members):
    make, n_species = SETS[name]
    batched, per_member, G_members, G = member_gradients(make(), torch.float64, n_members, n_species)
    assert batched.shape == per_member.shape
    for m in range(n_members):
        assert torch.equal(G_members[m], G), "the forward values are computed once and shared"
    scale = per_member.abs().max().item()
    assert scale > 1e-3
    torch.testing.assert_close(batched, per_member, rtol=1e-12, atol=1e-12 * scale)


def test_member_gradients_for_a_subset_of_centres():
    batched, per_member, _, _ = member_gradients(gaussian_set("exp", 0.2), torch.float64, 4, 3, n_centers=23)
    torch.testing.assert_close(batched, per_member, rtol=1e-12, atol=1e-12 * per_member.abs().max().item())


@pytest.mark.parametrize("name", ["gaussian-cos", "weighted-compact", "two-elements"])
def test_member_gradients_in_single_precision_are_as_accurate(name):
    """float32: batched and per-member gradients both measured against float64 per-member
    ones; the batched path sums in another order but may not be less accurate."""
    make, n_species = SETS[name]
    sf_set = make()
    exact = member_gradients(sf_set, torch.float64, 4, n_species)[1]
    batched, per_member, _, _ = member_gradients(sf_set, torch.float32, 4, n_species)
    scale = exact.abs().max().item()
    batched_error = (batched.double() - exact).abs().max().item()
    single_error = (per_member.double() - exact).abs().max().item()
    assert batched_error <= 2.0 * single_error + 1e-6 * scale, (batched_error, single_error)
    assert batched_error < 3e-3 * scale


def test_double_backward_works_on_one_copy_and_is_refused_on_member_copies():
    """Force training differentiates the forces (the VJP) with respect to the seed;
    that path is unchanged. Through member copies it is refused with a clear message."""
    sf_set = two_element_set()
    ei, species, vec = system(2)
    rest = (ei, species, sf_set.sf_int, sf_set.sf_real, len(species), sf_set.n_columns)
    weights = torch.randn(sf_set.n_columns, dtype=torch.float64, requires_grad=True)
    v = torch.tensor(vec, requires_grad=True)
    energy = (torch.ops.nnpkit.symmetry_functions(v, *rest) * weights).sum()
    (forces,) = torch.autograd.grad(energy, v, create_graph=True)
    (dloss,) = torch.autograd.grad(forces.pow(2).sum(), weights)
    assert torch.isfinite(dloss).all() and dloss.abs().max() > 0
    copies = torch.tensor(vec).unsqueeze(0).expand(2, -1, -1).detach().requires_grad_(True)
    energy = (torch.ops.nnpkit.symmetry_functions(copies, *rest) * weights).sum()
    with pytest.raises(RuntimeError, match="member-batched"):
        torch.autograd.grad(energy, copies, create_graph=True)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_length_scale_equals_scaling_the_edge_vectors_first(dtype):
    """n2p2 potentials in normalized lengths (conv_length): the operator's length_scale
    gives bitwise the values and gradients of scaling the edge vectors before it, for
    member copies (scaled once, gradients in place) and for one copy, whose double
    backward (force training) autograd keeps."""
    sf_set = two_element_set()
    ei, species, vec = system(2)
    rest = (ei, species, sf_set.sf_int, sf_set.sf_real, len(species), sf_set.n_columns)
    scale = 1.8897261258369282
    vectors = torch.tensor(vec, dtype=dtype) / scale
    seeds = torch.randn(3, len(species), sf_set.n_columns, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(5)).to(dtype)
    copies = vectors.unsqueeze(0).expand(3, -1, -1).detach().requires_grad_(True)
    G_scaled = torch.ops.nnpkit.symmetry_functions(copies, *rest, scale)
    (batched,) = torch.autograd.grad(G_scaled, copies, seeds)
    copies_first = vectors.unsqueeze(0).expand(3, -1, -1).detach().requires_grad_(True)
    G_first = torch.ops.nnpkit.symmetry_functions(copies_first * scale, *rest)
    (batched_first,) = torch.autograd.grad(G_first, copies_first, seeds)
    assert torch.equal(G_scaled, G_first)
    assert torch.equal(batched, batched_first)
    assert batched.abs().max() > 0

    weights = torch.randn(sf_set.n_columns, dtype=dtype, requires_grad=True)
    results = []
    for inside in (True, False):
        v = vectors.clone().requires_grad_(True)
        G = torch.ops.nnpkit.symmetry_functions(v, *rest, scale) if inside else \
            torch.ops.nnpkit.symmetry_functions(v * scale, *rest)
        (forces,) = torch.autograd.grad((G * weights).sum(), v, create_graph=True)
        (dloss,) = torch.autograd.grad(forces.pow(2).sum(), weights)
        results.append((G.detach(), forces.detach(), dloss))
    for inside, outside in zip(*results):
        assert torch.equal(inside, outside)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(RuntimeError, match="length_scale must be a positive number"):
            torch.ops.nnpkit.symmetry_functions(vectors, *rest, bad)


# --- the model and the runner ---------------------------------------------------------------


def edges_of(n_atoms: int, seed: int):
    atoms = random_triclinic(n_atoms, seed=seed)
    ei, _, vec = _core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3, 4.5)
    species = torch.tensor([0 if z == 29 else 1 for z in atoms.numbers])
    return species, torch.from_numpy(ei), torch.tensor(vec)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n_members", [2, 4, 7])
def test_forward_members_gives_forward_energies_and_each_member_its_gradient(n_members, dtype):
    model = make_bp(committee_size=n_members, dtype=dtype, seed=n_members).requires_grad_(False)
    species, ei, vec = edges_of(30, seed=n_members)
    vec = vec.to(dtype)
    n_local = len(species)
    energies = model(species, ei, vec, n_local)
    copies = vec.unsqueeze(0).expand(n_members, -1, -1).detach().requires_grad_(True)
    member_energies, counts = model.forward_members(species, ei, copies, n_local, True)
    assert torch.equal(member_energies, energies)
    assert counts.shape == (n_local,)
    (batched,) = torch.autograd.grad(member_energies.sum(), copies)
    per_member = []
    for m in range(n_members):
        v = vec.clone().requires_grad_(True)
        per_member.append(torch.autograd.grad(model(species, ei, v, n_local)[m].sum(), v)[0])
    per_member = torch.stack(per_member)
    if dtype == torch.float64:
        torch.testing.assert_close(batched, per_member, rtol=1e-12, atol=1e-12 * per_member.abs().max().item())
    else:
        torch.testing.assert_close(batched, per_member, rtol=1e-4, atol=1e-5 * per_member.abs().max().item())


def test_forward_members_refuses_the_wrong_number_of_copies():
    model = make_bp(committee_size=3).requires_grad_(False)
    species, ei, vec = edges_of(12, seed=1)
    with pytest.raises(Exception, match="one copy of the edge vectors per committee member"):
        model.forward_members(species, ei, vec.unsqueeze(0).expand(2, -1, -1), len(species), False)


class PerMemberBackward(torch.nn.Module):
    """The same committee without ``forward_members``: the runner takes one backward
    pass per member (the path every BP committee took before)."""

    species: List[str]
    cutoff: float
    interaction_range: float
    committee_size: int

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.species = list(model.species)
        self.cutoff = float(model.cutoff)
        self.interaction_range = float(model.interaction_range)
        self.committee_size = int(model.committee_size)

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor,
                n_local: int) -> torch.Tensor:
        return self.model(species, edge_index, edge_vectors, n_local)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n_members", [3, 8])
def test_runner_committee_statistics_equal_the_per_member_backward(tmp_path, n_members, dtype):
    model = make_bp(committee_size=n_members, dtype=dtype, seed=20 + n_members)
    batched = nnpkit.load(nnpkit.export(model, tmp_path / "batched.pt"))
    per_member = nnpkit.load(nnpkit.export(PerMemberBackward(model), tmp_path / "per-member.pt"))
    atoms = random_triclinic(40, seed=n_members)
    a, b = batched.compute(atoms, committee_statistics=True), per_member.compute(atoms, committee_statistics=True)
    rel = 1e-12 if dtype == torch.float64 else 1e-5
    for key in ("energy", "energy_std", "member_energies"):
        np.testing.assert_allclose(a[key], b[key], rtol=rel, atol=rel * abs(b["energy"]), err_msg=key)
    force_scale = np.abs(b["member_forces"]).max()
    assert force_scale > 1e-3
    for key in ("forces", "forces_std", "member_forces", "virial"):
        np.testing.assert_allclose(a[key], b[key], rtol=rel, atol=1e-10 if dtype == torch.float64 else 1e-4,
                                   err_msg=key)
    mean_only = batched.compute(atoms, committee_statistics=False)
    np.testing.assert_allclose(mean_only["forces"], a["forces"], rtol=rel, atol=1e-10 if dtype == torch.float64
                               else 1e-4)
