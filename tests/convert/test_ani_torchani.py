"""ANI-2x and ANI-1x converted from the published NeuroChem files agree
with TorchANI 2.9 loading the same files: energies to 1e-7 Hartree and forces to
1e-6 Hartree/Angstrom in double precision, committee members and spread included."""

import numpy as np
import pytest
import torch
from ase.build import molecule

import nnpkit
from ani_reference import HARTREE_IN_EV, load_torchani, torchani_results, water_box
from conftest import shared_data
from nnpkit.convert.ani import convert_neurochem, convert_torchani, from_torchani, read_neurochem

ENERGY_TOL = 1e-7  # Hartree
FORCE_TOL = 1e-6  # Hartree / Angstrom

MOLECULES_2X = ["CH3CH2Cl", "CH3SH", "CH3COF", "CH3CH2NH2"]  # H C N O S F Cl
MOLECULES_1X = ["CH3CH2NH2", "HCOOH", "CH3CONH2"]  # H C N O


def cluster(formulas, spacing=4.0, seed=1):
    """Molecules side by side, close enough to interact, rattled off equilibrium."""
    atoms = molecule(formulas[0])
    for k, formula in enumerate(formulas[1:], 1):
        other = molecule(formula)
        other.positions += [spacing * k, 0.3 * k, 0.0]
        atoms += other
    atoms.rattle(0.05, seed=seed)
    return atoms


@pytest.fixture(scope="module", params=["ani-2x_8x", "ani-1x_8x"])
def ani(request, tmp_path_factory):
    """(nnpkit model, TorchANI model, molecules) of one published ANI ensemble."""
    info = shared_data("ani-model-zoo", "resources", f"{request.param}.info")
    workdir = tmp_path_factory.mktemp(request.param)
    path = convert_neurochem(info, workdir / "model.pt")
    molecules = MOLECULES_2X if request.param.startswith("ani-2x") else MOLECULES_1X
    return nnpkit.load(path), load_torchani(info, workdir), molecules, request.param


def compare(model, reference, atoms):
    ours = model.compute(atoms, committee_statistics=True)
    ref = torchani_results(reference, atoms)
    assert abs(ours["energy"] / HARTREE_IN_EV - ref["energy"]) < ENERGY_TOL
    assert np.abs(ours["forces"] / HARTREE_IN_EV - ref["forces"]).max() < FORCE_TOL
    # Committee: each member, the energy spread and DeePMD's per-atom force deviation.
    np.testing.assert_allclose(ours["member_energies"] / HARTREE_IN_EV, ref["member_energies"], rtol=0,
                               atol=ENERGY_TOL)
    assert np.abs(ours["member_forces"] / HARTREE_IN_EV - ref["member_forces"]).max() < FORCE_TOL
    assert ours["energy_std"] / HARTREE_IN_EV == pytest.approx(ref["member_energies"].std(), abs=ENERGY_TOL)
    deviation = np.sqrt(((ref["member_forces"] - ref["forces"]) ** 2).sum(2).mean(0))
    assert np.abs(ours["forces_std"] / HARTREE_IN_EV - deviation).max() < FORCE_TOL
    return ours, ref


def test_metadata_declares_ani_units(ani):
    model, _, _, name = ani
    assert model.metadata["length_unit"] == "Ang" and model.metadata["energy_unit"] == "Hartree"
    assert model.committee_size == 8
    assert model.metadata["origin"]["kind"] == "neurochem"
    expected = ["H", "C", "N", "O", "S", "F", "Cl"] if name.startswith("ani-2x") else ["H", "C", "N", "O"]
    assert model.species == expected


def test_molecules_agree_with_torchani(ani):
    model, reference, molecules, _ = ani
    atoms = cluster(molecules)
    assert set(atoms.get_chemical_symbols()) == set(model.species)  # every element, every network
    ours, _ = compare(model, reference, atoms)
    assert np.abs(ours["forces"]).max() > 0.1  # off equilibrium: the forces test something
    single = molecule(molecules[-1])
    single.rattle(0.1, seed=2)
    compare(model, reference, single)


def test_periodic_water_box_agrees_with_torchani(ani):
    model, reference, _, _ = ani
    atoms = water_box(81, seed=3)  # 27 waters in a 9.3 Angstrom box: the cutoff exceeds half the box
    compare(model, reference, atoms)


def test_torchani_object_and_state_dict_convert_to_the_same_model(tmp_path):
    info = shared_data("ani-model-zoo", "resources", "ani-2x_8x.info")
    members = [0, 3]
    from_files = read_neurochem(info, members=members)
    reference_pair = load_torchani(info, tmp_path)
    ensemble = reference_pair.neural_networks
    ensemble.members = torch.nn.ModuleList([ensemble.members[m] for m in members])
    from_object = from_torchani(reference_pair)
    path = convert_torchani(
        reference_pair.state_dict(), tmp_path / "sd.pt", symbols=list(reference_pair.symbols), radial_cutoff=5.1,
        angular_cutoff=3.5,
    )
    atoms = molecule("CH3SH")
    atoms += molecule("ClF3")
    atoms.positions[4:] += [4.0, 0.0, 0.0]
    species = torch.tensor([from_files.species.index(s) for s in atoms.get_chemical_symbols()])
    edge_index, _, vectors = nnpkit._core.neighbor_list(atoms.positions, np.zeros((3, 3)), [False] * 3, 5.1)
    edge_index, vectors = torch.from_numpy(edge_index), torch.from_numpy(vectors)
    expected = from_files(species, edge_index, vectors, len(atoms))
    torch.testing.assert_close(from_object(species, edge_index, vectors, len(atoms)), expected, rtol=0, atol=1e-12)
    from_state_dict = nnpkit.load(path).compute(atoms)
    assert from_state_dict["energy"] / HARTREE_IN_EV == pytest.approx(expected.sum(1).mean().item(), abs=1e-10)
