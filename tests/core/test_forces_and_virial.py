"""Forces are exactly -dE/dx and the virial is -dE/dstrain, for both model types."""

import numpy as np
import pytest

from conftest import random_triclinic


def central_difference_forces(model, atoms, h=1e-4):
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, c] += h
            minus.positions[i, c] -= h
            forces[i, c] = -(model.compute(plus)["energy"] - model.compute(minus)["energy"]) / (2 * h)
    return forces


@pytest.mark.parametrize("seed", [0, 1])
def test_forces_match_finite_differences(any_model, seed):
    atoms = random_triclinic(n_atoms=10, seed=seed)
    analytic = any_model.compute(atoms)["forces"]
    numeric = central_difference_forces(any_model, atoms)
    assert np.abs(analytic).max() > 1e-3  # the test has teeth
    assert np.abs(analytic - numeric).max() <= 1e-6


def test_open_boundary_forces(any_model):
    atoms = random_triclinic(n_atoms=8, seed=3)
    atoms.pbc = False
    analytic = any_model.compute(atoms)["forces"]
    assert np.abs(analytic - central_difference_forces(any_model, atoms)).max() <= 1e-6
    assert np.abs(analytic.sum(0)).max() < 1e-10  # no external field: momentum conserved


def test_virial_matches_finite_strain(any_model):
    atoms = random_triclinic(n_atoms=10, seed=4)
    result = any_model.compute(atoms)
    h = 1e-5
    numeric = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[a, b] += sign * h
                strained = atoms.copy()
                strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
                energies.append(any_model.compute(strained)["energy"])
            numeric[a, b] = -(energies[0] - energies[1]) / (2 * h)  # W = -dE/de
    assert np.abs(result["virial"]).max() > 1e-3
    assert np.abs(result["virial"] - numeric).max() <= 1e-6
    np.testing.assert_allclose(result["stress"], -np.array(
        [numeric[0, 0], numeric[1, 1], numeric[2, 2], numeric[1, 2], numeric[0, 2], numeric[0, 1]]
    ) / atoms.get_volume(), atol=1e-8)


def test_per_atom_quantities_sum_to_totals(any_model):
    atoms = random_triclinic(n_atoms=12, seed=5)
    result = any_model.compute(atoms, atom_virials=True)
    assert result["energies"].sum() == pytest.approx(result["energy"], rel=1e-12)
    np.testing.assert_allclose(result["atom_virials"].sum(0), result["virial"], atol=1e-10)


def test_energy_only_matches_and_skips_the_backward_pass(bp_committee, model_dir):
    import nnpkit
    from conftest import export_nan_gradient_model

    atoms = random_triclinic(n_atoms=10, seed=4)
    full = bp_committee.compute(atoms, committee_statistics=True)
    energy_only = bp_committee.compute(atoms, forces=False, committee_statistics=True)
    assert energy_only["energy"] == full["energy"]
    assert energy_only["energy_std"] == full["energy_std"]
    np.testing.assert_array_equal(energy_only["member_energies"], full["member_energies"])
    for key in ("forces", "virial", "stress", "member_forces", "forces_std"):
        assert key in full and key not in energy_only
    with pytest.raises(ValueError, match="atom virials need forces"):
        bp_committee.compute(atoms, forces=False, atom_virials=True)

    nan_gradient = nnpkit.load(export_nan_gradient_model(model_dir / "nan-grad.pt", species=("Cu", "Ni")))
    assert np.isfinite(nan_gradient.compute(atoms, forces=False)["energy"])
    with pytest.raises(RuntimeError, match="non-finite energy or force"):
        nan_gradient.compute(atoms)
