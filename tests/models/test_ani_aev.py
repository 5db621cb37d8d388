"""The ANI AEV operator against a straightforward implementation of TorchANI's
formulas, finite differences of its backward and forward-mode products, the
species-compacted ANI model against a plain one, and bad input."""

import math

import numpy as np
import pytest
import torch

import nnpkit
from nnpkit.models.ani import AevParameters, AniAev, AniModel, celu

PARAMS = AevParameters(
    radial_cutoff=4.2,
    radial_eta=4.0,
    radial_shifts=(0.9, 1.6, 2.3, 3.0, 3.7),
    angular_cutoff=3.3,
    angular_eta=2.5,
    angular_zeta=6.5,
    angular_shifts=(0.9, 1.8, 2.7),
    angular_sections=(0.3927, 1.1781, 1.9635, 2.7489),
)
N_SPECIES = 3  # H, C, O in model order


def edges_of(atoms, cutoff):
    edge_index, _, vectors = nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, list(atoms.pbc), cutoff)
    return torch.from_numpy(edge_index), torch.from_numpy(vectors)


def species_of(atoms, order=(1, 6, 8)):
    return torch.tensor([order.index(z) for z in atoms.numbers])


def reference_aev(vectors, edge_index, species, n_species, p: AevParameters):
    """TorchANI's definition written out term by term (acos form, explicit pair loop)."""
    n_atoms = species.shape[0]
    nr, block = len(p.radial_shifts), len(p.angular_shifts) * len(p.angular_sections)
    pairs = [(i, j) for i in range(n_species) for j in range(i, n_species)]
    pair_index = {}
    for k, (i, j) in enumerate(pairs):
        pair_index[(i, j)] = pair_index[(j, i)] = k
    out = torch.zeros(n_atoms, n_species * nr + len(pairs) * block, dtype=vectors.dtype)

    def fc(r, rc):
        return 0.5 * torch.cos(math.pi * r / rc) + 0.5

    for i in range(n_atoms):
        mask = edge_index[0] == i
        vecs, nbrs = vectors[mask], edge_index[1][mask]
        dist = vecs.norm(dim=1)
        for v, r, j in zip(vecs, dist, nbrs):
            if r < p.radial_cutoff:
                s = int(species[j])
                for k, shift in enumerate(p.radial_shifts):
                    out[i, s * nr + k] += 0.25 * torch.exp(-p.radial_eta * (r - shift) ** 2) * fc(r, p.radial_cutoff)
        close = [(v, r, int(species[j])) for v, r, j in zip(vecs, dist, nbrs) if r < p.angular_cutoff]
        for a in range(len(close)):
            for b in range(a + 1, len(close)):
                (va, ra, sa), (vb, rb, sb) = close[a], close[b]
                theta = torch.acos(0.95 * (va @ vb) / (ra * rb))
                col0 = n_species * nr + pair_index[(sa, sb)] * block
                for k, shift in enumerate(p.angular_shifts):
                    radial = torch.exp(-p.angular_eta * ((ra + rb) / 2 - shift) ** 2)
                    for l, section in enumerate(p.angular_sections):
                        angular = 2 * ((1 + torch.cos(theta - section)) / 2) ** p.angular_zeta
                        out[i, col0 + k * len(p.angular_sections) + l] += (
                            angular * radial * fc(ra, p.angular_cutoff) * fc(rb, p.angular_cutoff)
                        )
    return out


def structure(seed, pbc=True, n_atoms=12, numbers=(1, 6, 8)):
    """Atoms on a jittered grid in a skewed periodic cell (no close contacts)."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    grid = [(i, j, k) for i in range(3) for j in range(2) for k in range(2)][:n_atoms]
    cell = np.array([[6.6, 0.0, 0.0], [1.1, 4.4, 0.0], [-0.7, 0.6, 4.5]])
    fractions = (np.array(grid) + 0.5 + rng.uniform(-0.12, 0.12, (len(grid), 3))) / [3, 2, 2]
    atoms = Atoms(numbers=[numbers[i % len(numbers)] for i in range(len(grid))], positions=fractions @ cell,
                  cell=cell, pbc=pbc)
    return atoms


@pytest.mark.parametrize("pbc", [True, False])
def test_aev_matches_reference(pbc):
    atoms = structure(0, pbc)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    aev = AniAev(PARAMS)(vectors, edge_index, species, N_SPECIES, len(atoms))
    ref = reference_aev(vectors, edge_index, species, N_SPECIES, PARAMS)
    assert aev.shape == (len(atoms), PARAMS.length(N_SPECIES))
    assert ref[:, N_SPECIES * 5 :].abs().max() > 1e-3  # angular terms present: the test has teeth
    torch.testing.assert_close(aev, ref, rtol=1e-12, atol=1e-13)


def test_aev_ignores_edges_beyond_cutoff_and_float32():
    atoms = structure(1)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff + 1.5)  # longer list, as an engine with skin gives
    species = species_of(atoms)
    aev = AniAev(PARAMS)(vectors, edge_index, species, N_SPECIES, 7)  # only the first 7 centres
    ref = reference_aev(vectors, edge_index, species, N_SPECIES, PARAMS)[:7]
    torch.testing.assert_close(aev, ref, rtol=1e-12, atol=1e-13)
    aev32 = AniAev(PARAMS)(vectors.float(), edge_index, species, N_SPECIES, 7)
    assert aev32.dtype == torch.float32
    torch.testing.assert_close(aev32.double(), ref, rtol=2e-5, atol=2e-6)


def test_aev_gradient_matches_finite_differences():
    atoms = structure(2, n_atoms=8)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    aev = AniAev(PARAMS)

    def f(v):
        return aev(v, edge_index, species, N_SPECIES, len(atoms))

    assert torch.autograd.gradcheck(f, (vectors.clone().requires_grad_(True),), eps=1e-6, atol=1e-8)


def test_forward_mode_product_matches_finite_differences():
    """The derivative of the backward with respect to its seed is the Jacobian-vector
    product; finite differences of the AEV along a tangent give the same."""
    atoms = structure(3, n_atoms=8)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    aev = AniAev(PARAMS)
    g = torch.Generator().manual_seed(0)
    tangent = torch.randn(vectors.shape, generator=g, dtype=torch.float64)
    v = vectors.clone().requires_grad_(True)
    out = aev(v, edge_index, species, N_SPECIES, len(atoms))
    seed = torch.randn(out.shape, generator=g, dtype=torch.float64).requires_grad_(True)
    (vjp,) = torch.autograd.grad(out, v, seed, create_graph=True)
    (jvp,) = torch.autograd.grad((vjp * tangent).sum(), seed)
    h = 1e-6
    numeric = (aev(vectors + h * tangent, edge_index, species, N_SPECIES, len(atoms))
               - aev(vectors - h * tangent, edge_index, species, N_SPECIES, len(atoms))) / (2 * h)
    assert numeric.abs().max() > 1e-2
    torch.testing.assert_close(jvp, numeric, rtol=1e-6, atol=1e-7)


def dense_cluster(seed, n_atoms=14, spacing=1.25):
    """A compact cluster (each atom with 11-13 angular neighbours, 55-78 pairs
    a centre, blocks of every species pair with lengths that are no multiple of a
    vector width)."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    grid = np.array([(i, j, k) for i in range(3) for j in range(3) for k in range(2)][:n_atoms], dtype=float)
    positions = spacing * (grid + rng.uniform(-0.15, 0.15, grid.shape))
    numbers = rng.choice([1, 6, 8], size=n_atoms)
    return Atoms(numbers=numbers, positions=positions)


@pytest.mark.parametrize("zeta", [6.5, 8.0])  # the pow and the integer-power paths
def test_aev_and_its_backward_over_many_pairs_equal_the_reference(zeta):
    """The operator computes a centre's triplets together, sorted by species pair;
    values and the vector-Jacobian product (one seed and member-batched seeds) must
    equal the term-by-term definition and its autograd."""
    import dataclasses

    params = dataclasses.replace(PARAMS, angular_zeta=zeta)
    atoms = dense_cluster(4)
    edge_index, vectors = edges_of(atoms, params.radial_cutoff)
    species = species_of(atoms)
    n = len(atoms)
    counts = torch.bincount(edge_index[0][vectors.norm(dim=1) < params.angular_cutoff], minlength=n)
    assert counts.min() >= 11  # many pairs per centre: the test has teeth
    aev = AniAev(params)
    v = vectors.clone().requires_grad_(True)
    out = aev(v, edge_index, species, N_SPECIES, n)
    v_ref = vectors.clone().requires_grad_(True)
    ref = reference_aev(v_ref, edge_index, species, N_SPECIES, params)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-13)
    g = torch.Generator().manual_seed(1)
    seeds = torch.randn((3,) + tuple(out.shape), generator=g, dtype=torch.float64)
    (vjp,) = torch.autograd.grad(out, v, seeds[0])
    (vjp_ref,) = torch.autograd.grad(ref, v_ref, seeds[0])
    torch.testing.assert_close(vjp, vjp_ref, rtol=1e-10, atol=1e-12)
    # One copy of the edge vectors per seed: one pass gives each copy its own gradient.
    copies = vectors.unsqueeze(0).expand(3, -1, -1).clone().requires_grad_(True)
    (batched,) = torch.autograd.grad(aev(copies, edge_index, species, N_SPECIES, n), copies, seeds)
    for m in range(3):
        (single,) = torch.autograd.grad(aev(v, edge_index, species, N_SPECIES, n), v, seeds[m])
        torch.testing.assert_close(batched[m], single, rtol=1e-13, atol=1e-14)
    # Float32: the same arithmetic at float precision.
    v32 = vectors.float().requires_grad_(True)
    out32 = aev(v32, edge_index, species, N_SPECIES, n)
    torch.testing.assert_close(out32.double(), ref.detach(), rtol=2e-5, atol=2e-6)
    (vjp32,) = torch.autograd.grad(out32, v32, seeds[0].float())
    assert (vjp32.double() - vjp_ref).abs().max() <= 2e-5 * vjp_ref.abs().max()


ANI2X_LIKE = AevParameters(
    radial_cutoff=5.1,
    radial_eta=19.7,
    radial_shifts=tuple(0.8 + 0.26875 * k for k in range(16)),
    angular_cutoff=3.5,
    angular_eta=12.5,
    angular_zeta=14.1,
    angular_shifts=tuple(0.8 + 0.3375 * k for k in range(8)),
    angular_sections=(0.39269908, 1.1780972, 1.9634954, 2.7488936),
)


@pytest.mark.parametrize("shifts", ["even", "uneven"])
def test_gaussian_ladder_equals_the_direct_exponentials(shifts):
    """In float64 the operator takes evenly spaced shifts' Gaussians by a product
    recurrence from the middle shift (gaussian_ladder.h), and keeps one exponential
    per shift where the spacing is uneven; both must equal the term-by-term
    definition, values and vector-Jacobian product, with ANI-2x's 16 radial and 8
    angular shifts."""
    import dataclasses

    params = ANI2X_LIKE
    if shifts == "uneven":
        params = dataclasses.replace(
            params,
            radial_shifts=params.radial_shifts[:5] + (params.radial_shifts[5] + 0.05,) + params.radial_shifts[6:],
            angular_shifts=params.angular_shifts[:3] + (params.angular_shifts[3] - 0.04,) + params.angular_shifts[4:],
        )
    atoms = dense_cluster(5, n_atoms=9, spacing=1.35)
    edge_index, vectors = edges_of(atoms, params.radial_cutoff)
    species = species_of(atoms)
    n = len(atoms)
    aev = AniAev(params)
    v = vectors.clone().requires_grad_(True)
    out = aev(v, edge_index, species, N_SPECIES, n)
    v_ref = vectors.clone().requires_grad_(True)
    ref = reference_aev(v_ref, edge_index, species, N_SPECIES, params)
    assert ref[:, : N_SPECIES * 16].abs().max() > 0.1 and ref[:, N_SPECIES * 16 :].abs().max() > 0.1
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-13)
    seed = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (vjp,) = torch.autograd.grad(out, v, seed)
    (vjp_ref,) = torch.autograd.grad(ref, v_ref, seed)
    assert vjp_ref.abs().max() > 1.0
    torch.testing.assert_close(vjp, vjp_ref, rtol=1e-10, atol=1e-12)


def random_ani_model(committee_size=3, seed=0, species=("H", "C", "O")):
    g = torch.Generator().manual_seed(seed)
    d = PARAMS.length(len(species))
    dims = [d, 12, 8, 1]
    networks = []
    for _ in species:
        networks.append(
            [
                (torch.randn(committee_size, o, i, generator=g, dtype=torch.float64) / math.sqrt(i),
                 torch.randn(committee_size, o, generator=g, dtype=torch.float64) * 0.1)
                for i, o in zip(dims[:-1], dims[1:])
            ]
        )
    return AniModel(list(species), PARAMS, networks, [-0.5, -38.0, -75.0])


def plain_energies(model, species, edge_index, vectors, n_local):
    """Full AEV, one member and one element at a time, plain matrix products."""
    aev = AniAev(PARAMS)(vectors, edge_index, species, model.n_species, n_local)
    out = torch.zeros(model.committee_size, species.shape[0], dtype=torch.float64)
    for m in range(model.committee_size):
        for i in range(n_local):
            e = int(species[i])
            net = model.networks[e]
            x = aev[i] @ net.first_weight[m].T + net.first_bias[m]
            x = celu(x, 0.1)
            for layer in net.hidden:
                x = celu(x @ layer.weight[m].T + layer.bias[m], 0.1)
            out[m, i] = (x @ net.output.weight[m].T + net.output.bias[m])[0] + model.energy_offset[e]
    return out


@pytest.mark.parametrize("present", [(1, 6, 8), (1, 8), (6,)])
def test_compacted_batched_model_equals_plain_evaluation(present):
    model = random_ani_model()
    atoms = structure(4, n_atoms=10, numbers=present)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    n_local = 8  # the last two play ghost atoms
    got = model(species, edge_index, vectors, n_local)
    torch.testing.assert_close(got, plain_energies(model, species, edge_index, vectors, n_local), rtol=1e-12,
                               atol=1e-12)
    assert torch.all(got[:, n_local:] == 0)


def test_exported_model_forces_and_training_on_forces(tmp_path):
    model = random_ani_model(committee_size=1)
    path = nnpkit.export(model, tmp_path / "ani.pt", energy_unit="Hartree")
    atoms = structure(5, n_atoms=8)
    result = nnpkit.load(path).compute(atoms)
    h = 1e-5
    for i, c in [(0, 0), (3, 2), (6, 1)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, c] += h
        minus.positions[i, c] -= h
        numeric = -(nnpkit.load(path).compute(plus)["energy"] - nnpkit.load(path).compute(minus)["energy"]) / (2 * h)
        assert abs(result["forces"][i, c] - numeric) < 1e-6 * max(1.0, abs(numeric))

    # A force loss is differentiable with respect to the weights (double backward through the AEV).
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    weight = model.networks[0].first_weight

    def force_loss():
        v = vectors.clone().requires_grad_(True)
        energy = model(species, edge_index, v, len(atoms)).sum()
        (dE_dv,) = torch.autograd.grad(energy, v, create_graph=True)
        return (dE_dv**2).sum()

    (grad,) = torch.autograd.grad(force_loss(), weight)
    index = torch.nonzero(grad.abs() == grad.abs().max())[0].tolist()
    losses = []
    for step in (1e-6, -2e-6):
        with torch.no_grad():
            weight[tuple(index)] += step
        losses.append(force_loss().item())
    with torch.no_grad():
        weight[tuple(index)] += 1e-6
    up, down = losses
    assert float(grad[tuple(index)]) == pytest.approx(float((up - down) / 2e-6), rel=1e-5)


def test_bad_input_is_refused_with_a_clear_message():
    atoms = structure(6, n_atoms=6)
    edge_index, vectors = edges_of(atoms, PARAMS.radial_cutoff)
    species = species_of(atoms)
    aev = AniAev(PARAMS)
    with pytest.raises(RuntimeError, match="species indices must lie in 0..1"):
        aev(vectors, edge_index, species, 2, len(atoms))  # species holds 0, 1 and 2
    zero = vectors.clone()
    zero[0] = 0.0
    with pytest.raises(RuntimeError, match="zero length"):
        aev(zero, edge_index, species, N_SPECIES, len(atoms))
    with pytest.raises(RuntimeError, match="grouped by centre"):
        aev(vectors.flip(0), edge_index.flip(1), species, N_SPECIES, len(atoms))
    with pytest.raises(RuntimeError, match="angle sections"):
        torch.ops.nnpkit.ani_aev(vectors, edge_index, species, 3, 6, 4.0, 1.0, [1.0], 3.0, 1.0, 1.0, [1.0],
                                 [0.1] * 40)
    with pytest.raises(ValueError, match="angular cutoff"):
        AevParameters(3.0, 1.0, (1.0,), 4.0, 1.0, 1.0, (1.0,), (0.5,))
