"""The descriptor models give the numbers they gave before they shared one base class
(issue 10), to 1e-13 relative, and what was saved before still loads:

- state dicts (training checkpoints) of a Behler-Parrinello committee, an n2p2 model
  with every symmetry-function type and an ANI committee, written by the models as they
  were (``tests/data/state-dicts-before-10.pt``, with the energies, edge gradients and
  extrapolation counts they gave, eager and scripted, and the edges those gradients
  belong to), load into today's classes under the buffer and network names of today
  and give the same numbers (edge gradients matched edge by edge: the neighbour
  search may list a centre's edges in another order);
- the bundled ``examples/models/copper-bp.pt`` (its own TorchScript code) against the
  same model rebuilt from its state dict with today's code and exported again;
- n2p2's Cu2S and ANI-2x converted with today's code, against the numbers the
  converters gave before (``../shared/data``; skipped without it).

How the fixture was made: ``write_fixture(path)`` below, run at commit b982a93 (the
classes before the shared base).
"""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pytest
import torch
from ase import Atoms

import nnpkit
from conftest import REPO, TEST_DATA, shared_data
from nnpkit import _core
from nnpkit.models import AevParameters, AniModel, BehlerParrinelloModel, SymmetryFunctionSet
from nnpkit.models import symmetry_functions as sf
from nnpkit.models.n2p2 import N2p2AtomicNetwork, N2p2Model

FIXTURE = TEST_DATA / "state-dicts-before-10.pt"
BUNDLED = REPO / "examples" / "models" / "copper-bp.pt"
RTOL = 1e-13


# --- the models of the fixture (constructor calls valid before and after the refactor) ----


def bp_committee() -> BehlerParrinelloModel:
    """Two members over Cu and S; weights come from the fixture's state dict."""
    functions = SymmetryFunctionSet.standard(["Cu", "S"], 4.0, n_radial=3, zetas=(1.0,), angular_etas=(0.0, 0.05))
    return BehlerParrinelloModel(functions, hidden=(5, 4), committee_size=2)


def n2p2_model() -> N2p2Model:
    """n2p2 types 2, 3, 9, 12, 13 and 20-25 (for Cu) in normalized units."""
    kw = dict(cutoff_type="poly2", alpha=0.1)
    functions = [
        sf.RadialSymmetryFunction("Cu", "S", 0.4, 4.0, 0.5, **kw),
        sf.AngularSymmetryFunction("Cu", ("Cu", "S"), 0.05, 2.0, -1.0, 4.0, narrow=True, **kw),
        sf.AngularSymmetryFunction("Cu", ("S", "S"), 0.02, 1.0, 1.0, 4.0, narrow=False, **kw),
        sf.WeightedRadialSymmetryFunction("Cu", 0.3, 4.0, 1.0, **kw),
        sf.WeightedAngularSymmetryFunction("Cu", 0.01, 1.0, 1.0, 4.0, **kw),
        sf.CompactRadialSymmetryFunction("Cu", "S", 0.5, 4.0, "p2"),
        sf.CompactAngularSymmetryFunction("Cu", ("Cu", "S"), 0.0, 4.0, 30.0, 150.0, "p3", narrow=True),
        sf.CompactAngularSymmetryFunction("Cu", ("Cu", "Cu"), -4.0, 4.0, 0.0, 180.0, "p4a", narrow=False),
        sf.CompactRadialSymmetryFunction("Cu", None, 0.5, 3.9, "e"),
        sf.CompactAngularSymmetryFunction("Cu", None, -4.0, 4.0, 60.0, 180.0, "p1", narrow=True),
        sf.CompactAngularSymmetryFunction("Cu", None, 0.0, 4.0, -90.0, 90.0, "p2", narrow=False),
        sf.RadialSymmetryFunction("S", "Cu", 0.3, 4.0, 1.0, **kw),
        sf.RadialSymmetryFunction("S", "S", 0.3, 4.0, 0.0, **kw),
        sf.AngularSymmetryFunction("S", ("Cu", "Cu"), 0.02, 1.0, 1.0, 4.0, **kw),
    ]
    sf_set = SymmetryFunctionSet(["Cu", "S"], functions)
    networks = [N2p2AtomicNetwork([n, 4, 3, 1], "tsl") for n in sf_set.n_per_element]
    return N2p2Model(sf_set, networks, conv_length=1.3, conv_energy=0.7, mean_energy=-1.1, energy_offsets=[-0.2, -0.4])


def ani_committee() -> AniModel:
    """Two members over H and O, hidden layers 5 and 3."""
    params = AevParameters.standard(4.0, 3.0, n_radial=4, n_angular=2, n_sections=2)
    dims = [params.length(2), 5, 3, 1]
    networks = [[(torch.zeros(2, o, i, dtype=torch.float64), torch.zeros(2, o, dtype=torch.float64))
                 for i, o in zip(dims[:-1], dims[1:])] for _ in range(2)]
    return AniModel(["H", "O"], params, networks, [-0.5, -75.0])


BUILDERS = {"behler_parrinello": bp_committee, "n2p2": n2p2_model, "ani": ani_committee}


def structure(name: str) -> Atoms:
    """A small periodic cell (Cu/S or H/O) whose atoms see their own images."""
    rng = np.random.default_rng(7)
    cell = np.array([[4.6, 0.0, 0.0], [0.7, 4.4, 0.0], [-0.4, 0.3, 4.5]])
    fractions = rng.uniform(0.0, 1.0, (7, 3))
    symbols = ["O", "H", "H", "O", "H", "H", "H"] if name == "ani" else ["Cu", "S", "Cu", "Cu", "S", "Cu", "S"]
    return Atoms(symbols, scaled_positions=fractions, cell=cell, pbc=True)


def model_inputs(module, atoms: Atoms) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """Species, edge index, edge vectors, atom count and the edges' lattice shifts."""
    edge_index, shifts, vectors = _core.neighbor_list(atoms.positions, atoms.cell.array,
                                                      [bool(p) for p in atoms.pbc], module.cutoff)
    species = torch.tensor([module.species.index(s) for s in atoms.get_chemical_symbols()])
    return species, torch.from_numpy(edge_index), torch.from_numpy(vectors), len(atoms), torch.from_numpy(shifts)


def edge_order(edge_index: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """The permutation that sorts edges by (centre, neighbour, lattice shift): an order
    independent of the neighbour search's."""
    keys = torch.cat([edge_index.t(), shifts.to(torch.int64)], dim=1).tolist()
    return torch.tensor(sorted(range(len(keys)), key=keys.__getitem__), dtype=torch.int64)


def evaluate(module, atoms: Atoms) -> dict[str, torch.Tensor]:
    """Energies (as forward returns them), dE/d(edge vector) in :func:`edge_order` and
    extrapolation counts."""
    species, edge_index, vectors, n, shifts = model_inputs(module, atoms)
    vectors = vectors.clone().requires_grad_(True)
    energies, counts = module.forward_with_extrapolation(species, edge_index, vectors, n)
    (gradient,) = torch.autograd.grad(energies.sum(), vectors)
    gradient = gradient[edge_order(edge_index, shifts)]
    return {"energies": energies.detach(), "edge_gradients": gradient, "counts": counts,
            "forward": module(species, edge_index, vectors.detach(), n).detach(),
            "separate_counts": module.extrapolation_counts(species, edge_index, vectors.detach(), n)}


def scripted(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """The module as a model file holds it: scripted, weights fixed (ANI's operator path).
    The scripted module shares the weights: evaluate the eager one first."""
    script = torch.jit.script(module.eval())
    for p in script.parameters():
        p.requires_grad_(False)
    return script


def write_fixture(path: pathlib.Path) -> None:
    """What tests/data/state-dicts-before-10.pt holds: per family, the state dict of a model
    with random weights and buffers, what it gave eager and scripted (weights fixed), and
    the edges of the structure (edge index and shifts: the fixture's gradients were
    stored in the search order of b982a93, then reordered by :func:`edge_order`)."""
    out = {}
    for k, (name, build) in enumerate(BUILDERS.items()):
        module = build()
        g = torch.Generator().manual_seed(100 + k)
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.4)
            for key, buffer in module.named_buffers():
                if buffer.is_floating_point() and not key.startswith("descriptor.") and key != "pair_table":
                    buffer.copy_(torch.randn(buffer.shape, generator=g, dtype=torch.float64) * 0.3)
            ranges = {"behler_parrinello": ("g_min", "g_max"), "n2p2": ("g_min", "g_max"), "ani": ("aev_min", "aev_max")}
            low, high = (module.get_buffer(r) for r in ranges[name])
            low.copy_(torch.rand(low.shape, generator=g, dtype=torch.float64) * 0.2)
            high.copy_(low + torch.rand(high.shape, generator=g, dtype=torch.float64) * 2.0)
        atoms = structure(name)
        eager = evaluate(module, atoms)  # before scripting: the scripted module shares the weights
        edge_index, shifts, _ = _core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3, module.cutoff)
        out[name] = {"state_dict": module.state_dict(), "eager": eager, "scripted": evaluate(scripted(module), atoms),
                     "edges": {"edge_index": torch.from_numpy(edge_index), "shifts": torch.from_numpy(shifts)}}
    torch.save(out, path)


# --- the checks ----------------------------------------------------------------------------


def assert_same(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    for key, value in expected.items():
        if value.is_floating_point():
            scale = float(value.abs().max()) or 1.0
            torch.testing.assert_close(actual[key], value, rtol=RTOL, atol=RTOL * scale, msg=key)
        else:
            torch.testing.assert_close(actual[key], value, rtol=0, atol=0, msg=key)


@pytest.fixture(scope="module")
def fixture() -> dict:
    return torch.load(FIXTURE, weights_only=False)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_state_dict_from_before_loads_and_gives_the_same_numbers(fixture, name):
    entry = fixture[name]
    module = BUILDERS[name]()
    module.load_state_dict(entry["state_dict"])  # strict: every old key has a new home
    atoms = structure(name)
    assert_same(evaluate(module, atoms), entry["eager"])
    assert_same(evaluate(scripted(module), atoms), entry["scripted"])
    assert module.has_training_range()


def copper_crystal(factor: float) -> Atoms:
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61 * factor, cubic=True).repeat((2, 2, 1))
    atoms.rattle(0.08, seed=3)
    return atoms


def file_numbers(path: pathlib.Path, atoms: Atoms) -> dict[str, torch.Tensor]:
    """:func:`evaluate` on the TorchScript module of a model file (weights fixed), and the
    engine's energy and forces."""
    module = torch.jit.load(str(path))
    for p in module.parameters():
        p.requires_grad_(False)
    numbers = evaluate(module, atoms)
    with warnings.catch_warnings():  # extrapolating on purpose
        warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
        result = nnpkit.load(path, min_distance=0.0).compute(atoms)
    numbers.update(energy=torch.tensor(result["energy"], dtype=torch.float64), forces=torch.from_numpy(result["forces"]))
    return numbers


def test_bundled_model_rebuilt_with_todays_code_matches_the_file(tmp_path):
    """examples/models/copper-bp.pt runs the code it was exported with; the same weights in
    today's class, exported again, give the same energies, forces and extrapolation flags."""
    old = nnpkit.load(BUNDLED)
    config = old.metadata["origin"]["config"]["model"]
    functions = SymmetryFunctionSet.standard(old.species, config["cutoff"], **config["symmetry_functions"])
    arch = old.metadata["architecture"]
    module = BehlerParrinelloModel(functions, hidden=arch["hidden_layers"], activation=arch["activation"],
                                   committee_size=old.committee_size)
    module.load_state_dict(torch.jit.load(str(BUNDLED)).state_dict())
    again = nnpkit.export(module, tmp_path / "again.pt", min_distance=old.min_distance)
    for factor in (1.0, 0.85):  # inside and outside the training range
        atoms = copper_crystal(factor)
        expected = file_numbers(BUNDLED, atoms)
        assert_same(file_numbers(again, atoms), expected)
    assert expected["counts"].any()


# Before issue 10: Cu2S (n2p2's input.data structure, compressed) and ANI-2x (methanol and
# water), converted and evaluated by nnpkit at commit b982a93: what :func:`file_numbers`
# gives, reduced to the total energy (eV), forces of atoms 0, 1 and the last (eV/Angstrom),
# per-member energies (the model's unit) and the sum of extrapolation counts.
CU2S_BEFORE = {
    "energy": -462.0990692756222,
    "forces": [
        [-1.457787549368855, -1.3835063645865082, 0.4997539241897866],
        [1.457687494878157, -1.3835890424019648, -0.499850845020304],
        [-0.0721213169179229, -0.02588566449369089, -1.0687229876981852],
    ],
    "member_energies": [-462.0990692756222],
    "counts": 3588,
}
ANI2X_BEFORE = {
    "energy": -5225.440672029894,
    "forces": [
        [0.6832179619524562, -0.6593411952324276, 0.9082709034918147],
        [-2.7465945415791255, -1.5091192357024237, -0.7227350455360395],
        [0.2236483176681629, -0.35021250118975666, -0.08213159577741538],
    ],
    "member_energies": [
        -192.0325412345254, -192.03188518484023, -192.03210789714257, -192.03170269422182,
        -192.02974223836256, -192.0319790831331, -192.03240364600396, -192.02887266321576,
    ],
    "counts": 0,
}


def summary(numbers: dict[str, torch.Tensor]) -> dict:
    energies = numbers["energies"]
    return {"energy": float(numbers["energy"]), "forces": numbers["forces"][[0, 1, -1]].tolist(),
            "member_energies": (energies.sum(-1) if energies.dim() == 2 else energies.sum().reshape(1)).tolist(),
            "counts": int(numbers["counts"].sum())}


def water_and_methanol() -> Atoms:
    return Atoms(
        "COHHHHOHH",
        positions=[[0.0, 0.0, 0.0], [1.42, 0.05, 0.0], [-0.4, 1.0, 0.1], [-0.35, -0.5, 0.9], [-0.38, -0.55, -0.85],
                   [1.75, -0.85, 0.1], [3.1, 1.2, 0.3], [3.4, 0.6, -0.4], [3.3, 2.1, 0.0]],
    )


def cu2s_numbers(tmp_path: pathlib.Path) -> dict:
    from nnpkit.convert.n2p2 import convert
    from nnpkit.io import read_n2p2_data

    directory = shared_data("n2p2", "Cu2S_PBE")
    path = pathlib.Path(convert(str(directory), str(tmp_path / "cu2s.pt"), progress=lambda _: None))
    (atoms,) = read_n2p2_data(directory / "input.data")
    atoms.set_cell(atoms.cell * 0.9, scale_atoms=True)  # some atoms outside the training range
    return summary(file_numbers(path, atoms))


def ani2x_numbers(tmp_path: pathlib.Path) -> dict:
    from nnpkit.convert.ani import convert_neurochem

    info = shared_data("ani-model-zoo", "resources", "ani-2x_8x.info")
    path = pathlib.Path(convert_neurochem(str(info), str(tmp_path / "ani2x.pt")))
    return summary(file_numbers(path, water_and_methanol()))


def assert_numbers(actual: dict, expected: dict) -> None:
    for key, value in expected.items():
        value = np.asarray(value)
        np.testing.assert_allclose(actual[key], value, rtol=RTOL, atol=RTOL * float(np.abs(value).max()),
                                   err_msg=key)


def test_converted_cu2s_gives_the_numbers_of_before(tmp_path):
    assert_numbers(cu2s_numbers(tmp_path), CU2S_BEFORE)


def test_converted_ani2x_gives_the_numbers_of_before(tmp_path):
    assert_numbers(ani2x_numbers(tmp_path), ANI2X_BEFORE)
