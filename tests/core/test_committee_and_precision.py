"""Committee statistics and single-precision models."""

import numpy as np
import pytest
import torch

import nnpkit
from conftest import make_bp, random_triclinic


def test_committee_mean_and_deviation(bp_committee, model_dir):
    atoms = random_triclinic(seed=21)
    result = bp_committee.compute(atoms, committee_statistics=True)
    members = result["member_energies"]
    assert members.shape == (3,)
    assert result["energy"] == pytest.approx(members.mean(), rel=1e-12)
    assert result["energy_std"] == pytest.approx(members.std(), rel=1e-12)
    assert result["energy_std"] > 1e-3  # members differ
    member_forces = result["member_forces"]
    np.testing.assert_allclose(result["forces"], member_forces.mean(0), atol=1e-12)
    expected_dev = np.sqrt(((member_forces - member_forces.mean(0)) ** 2).sum(-1).mean(0))
    np.testing.assert_allclose(result["forces_std"], expected_dev, atol=1e-12)
    # each member equals that member alone
    single = make_bp(committee_size=3, seed=5)
    for m in range(3):
        alone = make_bp(committee_size=1, seed=5)
        for element, committee in zip(alone.networks, single.networks):
            element.members[0].load_state_dict(committee.members[m].state_dict())
        member = nnpkit.load(nnpkit.export(alone, model_dir / f"member{m}.pt")).compute(atoms)
        assert member["energy"] == pytest.approx(members[m], rel=1e-12)
        np.testing.assert_allclose(member["forces"], member_forces[m], atol=1e-10)


def test_committee_statistics_can_be_skipped(bp_committee):
    atoms = random_triclinic(seed=22)
    full = bp_committee.compute(atoms)
    fast = bp_committee.compute(atoms, committee_statistics=False)
    assert "energy_std" not in fast
    assert fast["energy"] == pytest.approx(full["energy"], rel=1e-12)
    np.testing.assert_allclose(fast["forces"], full["forces"], atol=1e-12)


def test_float32_model_gives_float64_results_close_to_double(model_dir):
    atoms = random_triclinic(seed=23)
    m64 = nnpkit.load(nnpkit.export(make_bp(seed=3), model_dir / "bp64.pt"))
    m32 = nnpkit.load(nnpkit.export(make_bp(seed=3, dtype=torch.float32), model_dir / "bp32.pt"))
    assert m32.metadata["dtype"] == "float32"
    r64, r32 = m64.compute(atoms), m32.compute(atoms)
    assert r32["forces"].dtype == np.float64 and r32["energies"].dtype == np.float64
    assert r32["energy"] == pytest.approx(r64["energy"], rel=1e-5)
    np.testing.assert_allclose(r32["forces"], r64["forces"], atol=1e-4)


def test_model_units_are_converted(model_dir):
    """The same network declared in Bohr/Hartree gives the physics scaled accordingly."""
    from ase.units import Bohr, Hartree

    atoms = random_triclinic(seed=24)
    net = make_bp(seed=4)
    ev_model = nnpkit.load(nnpkit.export(net, model_dir / "ev.pt"))
    au_model = nnpkit.load(nnpkit.export(net, model_dir / "au.pt", length_unit="Bohr", energy_unit="Hartree",
                                         cutoff=net.cutoff))
    assert au_model.cutoff == pytest.approx(net.cutoff * Bohr)
    scaled = atoms.copy()
    scaled.set_cell(atoms.cell.array * Bohr, scale_atoms=True)  # same numbers in model units
    r_ev, r_au = ev_model.compute(atoms), au_model.compute(scaled)
    assert r_au["energy"] == pytest.approx(r_ev["energy"] * Hartree, rel=1e-12)
    np.testing.assert_allclose(r_au["forces"], r_ev["forces"] * Hartree / Bohr, rtol=1e-10, atol=1e-10)


def test_thread_count_can_be_set():
    before = nnpkit.get_num_threads()
    try:
        nnpkit.set_num_threads(1)
        assert nnpkit.get_num_threads() == 1
    finally:
        nnpkit.set_num_threads(before)
    with pytest.raises(ValueError):
        nnpkit.set_num_threads(0)


def test_results_do_not_depend_on_thread_count(bp_model):
    atoms = random_triclinic(n_atoms=40, seed=25)
    before = nnpkit.get_num_threads()
    try:
        nnpkit.set_num_threads(1)
        one = bp_model.compute(atoms)
        nnpkit.set_num_threads(2)
        two = bp_model.compute(atoms)
    finally:
        nnpkit.set_num_threads(before)
    assert one["energy"] == pytest.approx(two["energy"], rel=1e-13)
    np.testing.assert_allclose(one["forces"], two["forces"], atol=1e-13)


def test_forces_reduced_on_threads_equal_one_thread(bp_committee):
    """Enough edges (x members) that two threads share the reduction of the edge
    gradients into forces and virials, each into its own buffer: the same forces,
    member forces and virials as one thread, to rounding."""
    atoms = random_triclinic(n_atoms=500, seed=26)
    before = nnpkit.get_num_threads()
    try:
        nnpkit.set_num_threads(1)
        one = bp_committee.compute(atoms, committee_statistics=True)
        nnpkit.set_num_threads(2)
        two = bp_committee.compute(atoms, committee_statistics=True)
        mean_only = bp_committee.compute(atoms)
    finally:
        nnpkit.set_num_threads(before)
    n_edges = len(nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3,
                                             bp_committee.cutoff)[2])
    assert n_edges * 3 >= 1 << 15, "too few edges for the threaded reduction"
    for key in ("forces", "member_forces", "virial", "member_virials"):
        scale = np.abs(one[key]).max()
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-13 * scale, err_msg=key)
    np.testing.assert_allclose(mean_only["forces"], one["forces"], rtol=0, atol=1e-13 * np.abs(one["forces"]).max())


def test_ase_calculator_committee_statistics_are_opt_in(bp_committee):
    from nnpkit.ase import NNPCalculator

    atoms = random_triclinic(seed=24)
    atoms.calc = NNPCalculator(bp_committee)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert "forces_std" not in atoms.calc.results  # MD pays one backward pass, not one per member
    monitored = atoms.copy()
    monitored.calc = NNPCalculator(bp_committee, committee_statistics=True)
    assert monitored.get_potential_energy() == pytest.approx(energy, rel=1e-12)
    np.testing.assert_allclose(monitored.get_forces(), forces, atol=1e-12)
    reference = bp_committee.compute(atoms, committee_statistics=True)
    np.testing.assert_allclose(monitored.calc.results["forces_std"], reference["forces_std"], atol=1e-12)
    assert monitored.calc.results["energy_std"] == pytest.approx(reference["energy_std"], rel=1e-12)
