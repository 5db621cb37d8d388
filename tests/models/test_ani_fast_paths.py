"""The fast ANI paths against the straightforward ones, in float64 to 1e-12:

- the ``ani_networks`` operator (all members and elements in one call, first layer
  on the species blocks present) against one member, one element, one atom at a
  time on the full AEV, energies and gradients;
- the member-batched AEV backward against one backward pass per member;
- committee statistics from one backward pass (``forward_members``) against one
  backward pass per member, through the engine's ModelRunner;
- model files written before these paths existed, which run their own code.

Structures hold all seven ANI-2x elements, or a species subset, and periodic cells
shorter than twice the cutoff (atoms see their own images).
"""

import math

import numpy as np
import pytest
import torch
from ase import Atoms

import nnpkit
from conftest import TEST_DATA
from nnpkit.models.ani import AevParameters, AniAev, AniModel, celu

SPECIES = ["H", "C", "N", "O", "S", "F", "Cl"]
NUMBERS = [1, 6, 7, 8, 16, 9, 17]
PARAMS = AevParameters.standard(4.6, 3.1, n_radial=6, n_angular=2, n_sections=4)
LEGACY_FILE = TEST_DATA / "ani-committee-format1.pt"


def seven_element_model(committee_size=3, seed=12, hidden=(6, 4)) -> AniModel:
    """A random ANI model over ANI-2x's elements; with the defaults exactly the model in
    tests/data/ani-committee-format1.pt (written with the AniModel of the first format)."""
    g = torch.Generator().manual_seed(seed)
    dims = [PARAMS.length(len(SPECIES)), *hidden, 1]
    networks = [
        [
            (torch.randn(committee_size, o, i, generator=g, dtype=torch.float64) / math.sqrt(i),
             torch.randn(committee_size, o, generator=g, dtype=torch.float64) * 0.1)
            for i, o in zip(dims[:-1], dims[1:])
        ]
        for _ in SPECIES
    ]
    return AniModel(SPECIES, PARAMS, networks, [-0.5, -38.0, -54.6, -75.0, -398.0, -99.7, -460.1])


def periodic_structure(numbers, seed=0, n_atoms=14):
    """Atoms on a jittered grid in a skewed cell whose heights (about 4.3 Angstrom) are
    shorter than twice the cutoff (9.2): every atom sees images of itself."""
    rng = np.random.default_rng(seed)
    grid = [(i, j, k) for i in range(3) for j in range(3) for k in range(2)][:n_atoms]
    cell = np.array([[5.6, 0.0, 0.0], [0.9, 5.2, 0.0], [-0.6, 0.5, 4.4]])
    fractions = (np.array(grid) + 0.5 + rng.uniform(-0.1, 0.1, (len(grid), 3))) / [3, 3, 2]
    return Atoms(numbers=[numbers[i % len(numbers)] for i in range(len(grid))], positions=fractions @ cell,
                 cell=cell, pbc=True)


def molecule_cluster(seed=1):
    """Chloroethane, methanethiol, acetyl fluoride and ethylamine side by side: all seven elements."""
    from ase.build import molecule

    atoms = molecule("CH3CH2Cl")
    for k, formula in enumerate(["CH3SH", "CH3COF", "CH3CH2NH2"], 1):
        other = molecule(formula)
        other.positions += [3.6 * k, 0.3 * k, 0.0]
        atoms += other
    atoms.rattle(0.05, seed=seed)
    return atoms


STRUCTURES = {
    "periodic, all seven": lambda: periodic_structure(NUMBERS),
    "periodic, H and O": lambda: periodic_structure([8, 1, 1], seed=1),
    "periodic, C only": lambda: periodic_structure([6], seed=2, n_atoms=8),
    "molecules, all seven": molecule_cluster,
}


def edges(atoms, n_local=None):
    edge_index, _, vectors = nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, list(atoms.pbc),
                                                        PARAMS.radial_cutoff)
    species = torch.tensor([NUMBERS.index(z) for z in atoms.numbers])
    return species, torch.from_numpy(edge_index), torch.from_numpy(vectors)


def plain_energies(model: AniModel, species, edge_index, vectors, n_local):
    """Full AEV; one member, one element, one atom at a time; plain products."""
    aev = AniAev(PARAMS)(vectors, edge_index, species, model.n_species, n_local)
    rows = []
    for m in range(model.committee_size):
        row = []
        for i in range(species.shape[0]):
            if i >= n_local:
                row.append(torch.zeros((), dtype=torch.float64))
                continue
            e = int(species[i])
            net = model.networks[e]
            x = celu(aev[i] @ net.first_weight[m].T + net.first_bias[m], net.celu_alpha)
            for layer in net.hidden:
                x = celu(x @ layer.weight[m].T + layer.bias[m], net.celu_alpha)
            row.append((x @ net.output.weight[m].T + net.output.bias[m])[0] + model.energy_offset[e])
        rows.append(torch.stack(row))
    return torch.stack(rows)


@pytest.mark.parametrize("hidden", [(6, 4), (19, 10), (37, 70)],
                         ids=["narrow layers", "blocked products", "register blocks with remainders"])
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_operator_equals_plain_networks_energies_and_gradients(name, hidden):
    """Elements with at most 8 atoms take the few-row products, the others ATen's;
    layers of 10 and 19 outputs (past 8) run the blocked dot products and their
    remainders, on widths that are no multiple of the vector length."""
    atoms = STRUCTURES[name]()
    species, edge_index, vectors = edges(atoms)
    n_local = len(atoms) - 2  # the last two play ghost atoms
    model = seven_element_model(hidden=hidden)
    v = vectors.clone().requires_grad_(True)
    reference = plain_energies(model, species, edge_index, v, n_local)
    seed = torch.randn(reference.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (ref_grad,) = torch.autograd.grad((reference * seed).sum(), v)

    model.requires_grad_(False)  # the inference path: the ani_networks operator
    assert model._uses_operator()
    v = vectors.clone().requires_grad_(True)
    got = model(species, edge_index, v, n_local)
    (grad,) = torch.autograd.grad((got * seed).sum(), v)
    torch.testing.assert_close(got, reference.detach(), rtol=1e-12, atol=1e-12)
    assert torch.all(got[:, n_local:] == 0)
    assert ref_grad.abs().max() > 1e-2
    torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hidden", [(19, 10), (37, 70)], ids=["blocked products", "register blocks"])
@pytest.mark.parametrize("name", ["periodic, all seven", "molecules, all seven"])
def test_float32_operator_equals_float64_plain_networks_to_float_precision(name, hidden):
    """The float32 path (float exponentials in the AEV and CELU, float products of few
    and of many rows) against float64 plain networks: float rounding only."""
    atoms = STRUCTURES[name]()
    species, edge_index, vectors = edges(atoms)
    n_local = len(atoms)
    model = seven_element_model(hidden=hidden)
    model.energy_offset.zero_()  # float32 keeps -460 Hartree to 3e-5 only: compare the networks' part
    v = vectors.clone().requires_grad_(True)
    reference = plain_energies(model, species, edge_index, v, n_local)
    (ref_grad,) = torch.autograd.grad(reference.sum(), v)

    model = model.to(torch.float32).requires_grad_(False)
    v = vectors.to(torch.float32).requires_grad_(True)
    got = model(species, edge_index, v, n_local)
    (grad,) = torch.autograd.grad(got.sum(), v)
    assert got.dtype == torch.float32
    ref = reference.detach()
    assert (got.double() - ref).abs().max() < 5e-6 * ref.abs().max()  # seen: 2e-7 to 1.1e-6
    assert (grad.double() - ref_grad).abs().max() < 1e-5 * ref_grad.abs().max()  # seen: 1-2e-6


@pytest.mark.parametrize("name", ["periodic, all seven", "molecules, all seven"])
def test_batched_aev_backward_equals_one_pass_per_seed(name):
    species, edge_index, vectors = edges(STRUCTURES[name]())
    aev = AniAev(PARAMS)
    n = species.shape[0]
    members = 4
    copies = vectors.unsqueeze(0).expand(members, -1, -1).detach().requires_grad_(True)
    out = aev(copies, edge_index, species, len(SPECIES), n)
    assert out.shape == (members, n, PARAMS.length(len(SPECIES)))
    torch.testing.assert_close(out[2], aev(vectors, edge_index, species, len(SPECIES), n), rtol=0, atol=0)
    seeds = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    (batched,) = torch.autograd.grad((out * seeds).sum(), copies)
    for m in range(members):
        v = vectors.clone().requires_grad_(True)
        (one,) = torch.autograd.grad((aev(v, edge_index, species, len(SPECIES), n) * seeds[m]).sum(), v)
        torch.testing.assert_close(batched[m], one, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["periodic, all seven", "molecules, all seven", "periodic, H and O"])
def test_forward_members_gives_each_member_its_own_gradient(name):
    species, edge_index, vectors = edges(STRUCTURES[name]())
    n_local = species.shape[0]
    model = seven_element_model().requires_grad_(False)
    copies = vectors.unsqueeze(0).expand(model.committee_size, -1, -1).detach().requires_grad_(True)
    energies, counts = model.forward_members(species, edge_index, copies, n_local, False)
    assert counts.numel() == 0
    (batched,) = torch.autograd.grad(energies.sum(), copies)
    for m in range(model.committee_size):
        v = vectors.clone().requires_grad_(True)
        member = model(species, edge_index, v, n_local)[m]
        torch.testing.assert_close(energies[m], member.detach(), rtol=1e-12, atol=1e-12)
        (one,) = torch.autograd.grad(member.sum(), v)
        torch.testing.assert_close(batched[m], one, rtol=1e-12, atol=1e-12)


class _MeanOnly(torch.nn.Module):
    """The same model without ``forward_members``: the runner falls back to one backward
    pass per member (the straightforward committee statistics)."""

    def __init__(self, inner: AniModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor,
                n_local: int) -> torch.Tensor:
        return self.inner(species, edge_index, edge_vectors, n_local)


@pytest.fixture(scope="module")
def batched_and_per_member(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ani-fast")
    model = seven_element_model(committee_size=4, seed=7, hidden=(10, 6))
    with torch.no_grad():  # a known training range, so that some atoms extrapolate
        model.descriptor_min.fill_(0.0)
        model.descriptor_max.fill_(0.35)
    fast = nnpkit.load(nnpkit.export(model, folder / "fast.pt", energy_unit="Hartree"))
    slow = nnpkit.load(nnpkit.export(_MeanOnly(model), folder / "slow.pt", species=SPECIES, cutoff=model.cutoff,
                                     committee_size=4, energy_unit="Hartree"))
    return fast, slow


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_runner_committee_statistics_from_one_pass_equal_one_pass_per_member(batched_and_per_member, name):
    fast, slow = batched_and_per_member
    atoms = STRUCTURES[name]()
    a = fast.compute(atoms, committee_statistics=True, extrapolation=False, atom_virials=True)
    b = slow.compute(atoms, committee_statistics=True, extrapolation=False, atom_virials=True)
    assert a["energy"] == pytest.approx(b["energy"], rel=1e-12)
    assert a["energy_std"] == pytest.approx(b["energy_std"], rel=1e-10)
    np.testing.assert_allclose(a["member_energies"], b["member_energies"], rtol=1e-12)
    assert np.abs(b["member_forces"]).max() > 1e-2
    for key in ("forces", "member_forces", "forces_std", "virial", "atom_virials", "energies"):
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-12 * max(1.0, np.abs(b[key]).max()), err_msg=key)
    # and the mean-only evaluation agrees with the committee's mean
    mean_only = fast.compute(atoms, committee_statistics=False, extrapolation=False)
    np.testing.assert_allclose(mean_only["forces"], a["forces"], rtol=0, atol=1e-12 * np.abs(a["forces"]).max())


def test_committee_statistics_with_extrapolation_counts(batched_and_per_member):
    fast, slow = batched_and_per_member
    atoms = molecule_cluster()
    with pytest.warns(nnpkit.ExtrapolationWarning):
        with_committee = fast.compute(atoms, committee_statistics=True)
    with pytest.warns(nnpkit.ExtrapolationWarning):
        mean_only = fast.compute(atoms, committee_statistics=False)
    counts = with_committee["extrapolation_counts"]
    assert counts.sum() > 0
    np.testing.assert_array_equal(counts, mean_only["extrapolation_counts"])


def test_first_layers_kept_per_species_set_do_not_mix(batched_and_per_member):
    """The scripted model keeps each species set's first layers, compacted AEV columns
    and species renumbering; alternating sets gives what a freshly loaded model gives."""
    fast, _ = batched_and_per_member
    structures = [STRUCTURES[n]() for n in ("periodic, H and O", "molecules, all seven", "periodic, C only")]
    first = [fast.compute(a, committee_statistics=False, extrapolation=False) for a in structures]
    for atoms, before in zip(reversed(structures), reversed(first)):
        again = nnpkit.load(fast.path).compute(atoms, committee_statistics=False, extrapolation=False)
        assert again["energy"] == before["energy"]
        np.testing.assert_array_equal(again["forces"], before["forces"])


def test_old_model_files_run_their_own_code():
    """A file of the first AniModel format (no operator, no forward_members) loads and
    gives the same energies as the model rebuilt from the same weights today. Its
    forces carry torch's CELU backward (alpha rounded to float32): equal to ~1e-8."""
    old = nnpkit.load(LEGACY_FILE)
    new_model = seven_element_model()
    atoms = molecule_cluster()
    a = old.compute(atoms, committee_statistics=True)
    species, edge_index, vectors = edges(atoms)
    v = vectors.clone().requires_grad_(True)
    reference = plain_energies(new_model, species, edge_index, v, len(atoms))
    hartree = nnpkit._core.energy_unit_in_ev("Hartree")
    np.testing.assert_allclose(a["member_energies"] / hartree, reference.sum(1).detach().numpy(), rtol=1e-12)
    member_forces = np.stack([-torch.autograd.grad(reference[m].sum(), v, retain_graph=True)[0].numpy()
                              for m in range(3)])
    # edge gradients to forces: F_i = sum over edges (i, j) of dE/dr_ij - sum over edges (j, i)
    forces = np.zeros((3, len(atoms), 3))
    for m in range(3):
        np.add.at(forces[m], edge_index[0].numpy(), -member_forces[m])
        np.add.at(forces[m], edge_index[1].numpy(), member_forces[m])
    np.testing.assert_allclose(a["member_forces"] / hartree, forces, rtol=0, atol=1e-7)


def float32_valued(model: AniModel) -> AniModel:
    """The model with every weight rounded to a float32 value (kept float64), as a
    model converted from NeuroChem's float32 files holds."""
    with torch.no_grad():
        for network in model.networks:
            network.first_weight.copy_(network.first_weight.float().double())
            for layer in [*network.hidden, network.output]:
                layer.weight.copy_(layer.weight.float().double())
    return model


def operator_arguments(model: AniModel):
    """The ani_networks operator's weights, biases and layer counts over the full AEV."""
    weights, biases, n_layers = [], [], []
    for network in model.networks:
        w, b = network.operator_layers(network.first_layer_columns(None))
        weights += w
        biases += b
        n_layers.append(len(w))
    return weights, biases, n_layers


@pytest.mark.parametrize("hidden", [(6, 4), (19, 10), (37, 70)],
                         ids=["narrow layers", "blocked products", "register blocks with remainders"])
def test_narrow_weight_copies_give_the_same_numbers_as_the_float64_weights(hidden):
    """float32 copies of float32-valued float64 weights, read by the few-row products and
    (packed for float64 products) by the many-row ones and widened there, give bitwise
    the numbers of the float64 weights: for 1 to 8 rows of an element and for many rows
    (register blocks and their remainders), energies and AEV gradients; an element
    whose weights are not float32 values gets no copies (empty tensors)."""
    from nnpkit.models.ani import _exact_float32_copy

    model = float32_valued(seven_element_model(hidden=hidden)).requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    narrow = [_exact_float32_copy(w) for w in weights]
    assert all(n.dtype == torch.float32 and n.shape == w.shape and n.stride() == w.stride()
               for n, w in zip(narrow, weights))
    g = torch.Generator().manual_seed(9)
    width = PARAMS.length(len(SPECIES))
    for n_rows in [1, 2, 3, 5, 8, 13, 40, 97]:
        aev = torch.rand(n_rows, width, generator=g, dtype=torch.float64).requires_grad_(True)
        species = torch.randint(0, 2, (n_rows,), generator=g)  # H and C rows
        args = (aev, species, n_rows + 2, weights, biases, n_layers, model.energy_offset, model.celu_alpha)
        wide_energies = torch.ops.nnpkit.ani_networks(*args, None)
        narrow_energies = torch.ops.nnpkit.ani_networks(*args, narrow)
        seed = torch.randn(wide_energies.shape, generator=g, dtype=torch.float64)
        (wide_grad,) = torch.autograd.grad((wide_energies * seed).sum(), aev)
        (narrow_grad,) = torch.autograd.grad((narrow_energies * seed).sum(), aev)
        assert torch.equal(narrow_energies, wide_energies), n_rows
        assert torch.equal(narrow_grad, wide_grad), n_rows
        assert wide_grad.abs().max() > 1e-3

    inexact = seven_element_model(hidden=hidden).requires_grad_(False)
    assert all(_exact_float32_copy(w).numel() == 0 for w in operator_arguments(inexact)[0])


def plain_row_energies(model: AniModel, aev: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
    """[M, n] energies of AEV rows, one member and one row at a time (no self energies)."""
    rows = []
    for m in range(model.committee_size):
        row = []
        for i in range(aev.shape[-2]):
            x = aev[m, i] if aev.dim() == 3 else aev[i]
            net = model.networks[int(species[i])]
            x = celu(x @ net.first_weight[m].T + net.first_bias[m], net.celu_alpha)
            for layer in net.hidden:
                x = celu(x @ layer.weight[m].T + layer.bias[m], net.celu_alpha)
            row.append((x @ net.output.weight[m].T + net.output.bias[m])[0])
        rows.append(torch.stack(row))
    return torch.stack(rows)


def strided_copy(w: torch.Tensor) -> torch.Tensor:
    """w's values in memory of the transposed layout (not contiguous): the operator's
    ATen path."""
    return w.transpose(-1, -2).contiguous().transpose(-1, -2)


@pytest.mark.parametrize("layout", ["model's first layer", "first layer by rows", "strided later layers"])
@pytest.mark.parametrize("hidden", [(19, 10), (37, 70)], ids=["blocked products", "register blocks with remainders"])
def test_many_row_products_equal_plain_ones_in_every_weight_layout(layout, hidden):
    """Elements with more than 8 rows run the register-blocked products on the raw
    weights (the first layer of the model's [M, h1, D] storage, or [D, M*h1] by rows,
    copied to rows of outputs where a product reads it transposed); layers in other
    layouts take ATen's products. Row counts past the 6-row blocks, shared AEV rows
    (members summed) and member copies (committee statistics), against one member and
    one row at a time to 1e-12."""
    model = seven_element_model(hidden=hidden).requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    starts = np.cumsum([0] + n_layers[:-1])
    if layout == "first layer by rows":
        weights = [w.contiguous() if k in starts else w for k, w in enumerate(weights)]
        assert weights[0].stride(1) == 1
    elif layout == "strided later layers":
        weights = [w if k in starts else strided_copy(w) for k, w in enumerate(weights)]
        assert not weights[1].is_contiguous()
    else:
        assert weights[0].stride(0) == 1
    g = torch.Generator().manual_seed(4)
    width = PARAMS.length(len(SPECIES))
    for n_rows in [9, 23, 61]:
        species = torch.randint(0, 3, (n_rows,), generator=g)
        species[:9] = 1  # at least 9 C rows: the many-row path for one element at least
        base = torch.rand(n_rows, width, generator=g, dtype=torch.float64)
        for copies in [False, True]:
            shape = (model.committee_size, n_rows, width) if copies else (n_rows, width)
            aev = base.expand(shape).clone().requires_grad_(True)
            got = torch.ops.nnpkit.ani_networks(aev, species, n_rows + 1, weights, biases, n_layers,
                                                model.energy_offset, model.celu_alpha)
            seed = torch.randn(got.shape, generator=g, dtype=torch.float64)
            (grad,) = torch.autograd.grad((got * seed).sum(), aev)
            plain_aev = aev.detach().clone().requires_grad_(True)
            reference = plain_row_energies(model, plain_aev, species)
            (ref_grad,) = torch.autograd.grad((reference * seed[:, :n_rows]).sum(), plain_aev)
            offsets = model.energy_offset[species]
            torch.testing.assert_close(got[:, :n_rows] - offsets, reference, rtol=1e-12, atol=1e-12)
            assert torch.all(got[:, n_rows:] == 0)
            assert ref_grad.abs().max() > 1e-2
            torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["model's first layer", "first layer by rows"])
def test_cached_weight_layouts_follow_in_place_changes(layout):
    """Many-row products read copies of the weights in the layout they need, made on
    the first call and kept while the weight is unchanged: an in-place change of any
    weight (training, an edit) must reach the next call, as if the weights were new."""
    model = seven_element_model(hidden=(37, 70)).requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    if layout == "first layer by rows":
        starts = np.cumsum([0] + n_layers[:-1])
        weights = [w.contiguous() if k in starts else w for k, w in enumerate(weights)]
    g = torch.Generator().manual_seed(8)
    n_rows = 23
    species = torch.randint(0, 3, (n_rows,), generator=g)
    species[:9] = 1  # 9 C rows or more: the many-row products
    aev = torch.rand(n_rows, PARAMS.length(len(SPECIES)), generator=g, dtype=torch.float64)

    def run(layers):
        x = aev.clone().requires_grad_(True)
        energies = torch.ops.nnpkit.ani_networks(x, species, n_rows, layers, biases, n_layers, model.energy_offset,
                                                 model.celu_alpha)
        (gradient,) = torch.autograd.grad(energies.sum(), x)
        return energies, gradient

    before = run(weights)
    torch.testing.assert_close(run(weights), before, rtol=0, atol=0)  # from the kept copies
    with torch.no_grad():
        for k, w in enumerate(weights):
            w.mul_(1.0 + 0.01 * (k + 1))
    after = run(weights)
    fresh = run([w.clone() for w in weights])  # tensors never seen: copied anew
    torch.testing.assert_close(after, fresh, rtol=1e-14, atol=1e-14)
    assert (after[0] - before[0]).abs().max() > 1e-3
    assert (after[1] - before[1]).abs().max() > 1e-3
    # New data under the same tensors (`p.data = t` keeps the version counter; the
    # old buffer, freed, may come back at the same address for the new one).
    for k, w in enumerate(weights):
        w.data = w.detach() * (1.0 - 0.02 * (k + 1))
    replaced = run(weights)
    torch.testing.assert_close(replaced, run([w.clone() for w in weights]), rtol=1e-14, atol=1e-14)
    assert (replaced[0] - after[0]).abs().max() > 1e-3


def test_narrow_weight_copies_must_match_their_weights():
    model = float32_valued(seven_element_model()).requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    aev = torch.rand(3, PARAMS.length(len(SPECIES)), dtype=torch.float64)
    args = (aev, torch.zeros(3, dtype=torch.int64), 3, weights, biases, n_layers, model.energy_offset,
            model.celu_alpha)
    with pytest.raises(RuntimeError, match="float32 copy of a float64 weight"):
        torch.ops.nnpkit.ani_networks(*args, [w.float().contiguous() for w in weights])  # first layer: strides
    with pytest.raises(RuntimeError, match="narrow weights for"):
        torch.ops.nnpkit.ani_networks(*args, [weights[0].float()])


def test_model_files_keep_narrow_copies_of_float32_valued_weights(tmp_path):
    """A scripted float64 model of float32-valued weights keeps float32 copies per species
    set and element and gives the plain networks' numbers; one of float64 weights keeps
    empty tensors (no copies) and the same numbers as before."""
    for rounded in (True, False):
        model = seven_element_model(committee_size=2, hidden=(19, 10))
        if rounded:
            float32_valued(model)
        scripted = torch.jit.load(str(nnpkit.export(model, tmp_path / f"m{rounded}.pt", energy_unit="Hartree")))
        for parameter in scripted.parameters():
            parameter.requires_grad_(False)
        atoms = molecule_cluster()
        species, edge_index, vectors = edges(atoms)
        v = vectors.clone().requires_grad_(True)
        reference = plain_energies(model, species, edge_index, v, len(atoms))
        (ref_grad,) = torch.autograd.grad(reference.sum(), v)
        inner = scripted.model if hasattr(scripted, "model") else scripted
        v = vectors.clone().requires_grad_(True)
        got = scripted(species, edge_index, v, len(atoms))
        (grad,) = torch.autograd.grad(got.sum(), v)
        torch.testing.assert_close(got, reference.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)
        copies = [t for layers in inner._narrow_first_layers.values() for t in layers]
        copies += [t for layers in inner._narrow_later_layers.values() for t in layers]
        assert len(copies) > 0
        assert all(t.dtype == torch.float32 for t in copies)
        assert all(t.numel() > 0 for t in copies) == rounded
        assert all(t.numel() == 0 for t in copies) == (not rounded)


def lone_atom_molecules():
    """Acetamide (one N, one O) and the seven-element cluster (one N, O, S, F, Cl each)."""
    from ase.build import molecule

    acetamide = molecule("CH3CONH2")
    acetamide.rattle(0.03, seed=4)
    return {"acetamide": acetamide, "molecules, all seven": molecule_cluster()}


@pytest.mark.parametrize("rounded", [True, False], ids=["float32 copies", "float64 weights"])
def test_first_layers_skip_the_pair_blocks_no_centre_can_have(tmp_path, rounded):
    """With one atom of a species, no centre has a pair block of two of them and its own
    centre no block with it at all: a scripted model's first layers skip those AEV
    columns (per element, kept per species counts). Energies and gradients, and each
    member's gradient from member copies, equal the plain networks'. In a periodic cell
    whose images give each of two atoms of a species neighbours of its own kind, those
    columns are not zero and the call keeps them all (same numbers)."""
    model = seven_element_model(committee_size=2, hidden=(19, 10))
    if rounded:
        float32_valued(model)
    scripted = torch.jit.load(str(nnpkit.export(model, tmp_path / "m.pt", energy_unit="Hartree")))
    for parameter in scripted.parameters():
        parameter.requires_grad_(False)
    inner = scripted.model if hasattr(scripted, "model") else scripted
    structures = {**lone_atom_molecules(), "periodic, all seven": periodic_structure(NUMBERS)}
    for name, atoms in structures.items():
        species, edge_index, vectors = edges(atoms)
        v = vectors.clone().requires_grad_(True)
        reference = plain_energies(model, species, edge_index, v, len(atoms))
        member_grads = [torch.autograd.grad(reference[m].sum(), v, retain_graph=True)[0] for m in range(2)]
        v = vectors.clone().requires_grad_(True)
        got = scripted(species, edge_index, v, len(atoms))
        (grad,) = torch.autograd.grad(got.sum(), v)
        torch.testing.assert_close(got, reference.detach(), rtol=1e-12, atol=1e-12, msg=name)
        torch.testing.assert_close(grad, sum(member_grads), rtol=1e-12, atol=1e-12, msg=name)
        copies = vectors.unsqueeze(0).expand(2, -1, -1).clone().requires_grad_(True)
        energies, _ = scripted.forward_members(species, edge_index, copies, len(atoms), False)
        (copy_grads,) = torch.autograd.grad(energies.sum(), copies)
        torch.testing.assert_close(energies, reference.detach(), rtol=1e-12, atol=1e-12, msg=name)
        for m in range(2):
            torch.testing.assert_close(copy_grads[m], member_grads[m], rtol=1e-12, atol=1e-12, msg=name)
    layers = list(inner._structural_layers.values())
    kept = [columns for entry in layers for columns in entry[0] if columns.numel() > 0]
    assert len(kept) > 0  # some element's first layer dropped columns
    assert all(first.shape[0] == columns.shape[0]
               for entry in layers for columns, first in zip(entry[0], entry[2]) if columns.numel() > 0)


def test_aev_columns_of_the_operator_are_checked():
    model = seven_element_model().requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    aev = torch.rand(3, PARAMS.length(len(SPECIES)), dtype=torch.float64)
    args = (aev, torch.zeros(3, dtype=torch.int64), 3, weights, biases, n_layers, model.energy_offset,
            model.celu_alpha, None)
    with pytest.raises(RuntimeError, match="AEV column lists for"):
        torch.ops.nnpkit.ani_networks(*args, [torch.arange(4)])
    columns = [torch.empty(0, dtype=torch.int64) for _ in SPECIES]
    columns[0] = torch.arange(5)  # H reads 5 columns, its first layer has all
    with pytest.raises(RuntimeError, match="first weight must be"):
        torch.ops.nnpkit.ani_networks(*args, columns)
    columns[0] = torch.full((aev.shape[1],), aev.shape[1])
    with pytest.raises(RuntimeError, match="aev_columns outside"):
        torch.ops.nnpkit.ani_networks(*args, columns)


def test_self_energies_of_the_operator_are_checked():
    """One self energy per element: a shorter list is an error naming it, not an
    energy read past its end."""
    model = seven_element_model().requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    aev = torch.rand(3, PARAMS.length(len(SPECIES)), dtype=torch.float64)
    species = torch.tensor([0, 1, len(SPECIES) - 1])
    good = torch.ops.nnpkit.ani_networks(aev, species, 3, weights, biases, n_layers, model.energy_offset,
                                         model.celu_alpha)
    assert torch.isfinite(good).all()
    with pytest.raises(RuntimeError, match="one self energy per element"):
        torch.ops.nnpkit.ani_networks(aev, species, 3, weights, biases, n_layers, model.energy_offset[:-1],
                                      model.celu_alpha)


def test_many_rows_run_in_tiles_with_the_numbers_of_untiled_rows():
    """An element with more rows than a tile (512) runs each member's forward and
    backward tile by tile; rows are independent, so 900 rows of one element give, row by
    row, the energies and AEV gradients of the same rows in two untiled calls (450 each),
    with shared AEV rows and with member copies."""
    model = seven_element_model(hidden=(37, 70)).requires_grad_(False)
    weights, biases, n_layers = operator_arguments(model)
    g = torch.Generator().manual_seed(11)
    width = PARAMS.length(len(SPECIES))
    n_rows = 900
    species = torch.ones(n_rows, dtype=torch.int64)
    species[::7] = 0  # a second element, below a tile
    base = torch.rand(n_rows, width, generator=g, dtype=torch.float64)

    def run(rows: slice, copies: bool):
        x = base[rows]
        aev = (x.expand(model.committee_size, *x.shape) if copies else x).clone().requires_grad_(True)
        n = x.shape[0]
        energies = torch.ops.nnpkit.ani_networks(aev, species[rows], n, weights, biases, n_layers,
                                                 model.energy_offset, model.celu_alpha)
        (grad,) = torch.autograd.grad(energies.sum(), aev)
        return energies.detach(), grad

    for copies in [False, True]:
        whole_energies, whole_grad = run(slice(0, n_rows), copies)
        halves = [run(slice(0, 450), copies), run(slice(450, n_rows), copies)]
        torch.testing.assert_close(whole_energies, torch.cat([h[0] for h in halves], dim=-1), rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(whole_grad, torch.cat([h[1] for h in halves], dim=-2), rtol=1e-13, atol=1e-13)
        assert whole_grad.abs().max() > 1e-2
