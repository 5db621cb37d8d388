"""Energy is invariant under translation, rotation and permutation of like atoms;
forces rotate with the system; a cell and its supercell agree per atom."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from conftest import random_triclinic


def test_translation(any_model):
    atoms = random_triclinic(seed=11)
    reference = any_model.compute(atoms)
    moved = atoms.copy()
    moved.positions += np.array([3.7, -12.1, 0.45])  # also moves atoms across the cell faces
    result = any_model.compute(moved)
    assert result["energy"] == pytest.approx(reference["energy"], rel=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"], atol=1e-10)


def test_rotation(any_model):
    atoms = random_triclinic(seed=12)
    reference = any_model.compute(atoms)
    R = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell.array @ R.T)
    rotated.positions = atoms.positions @ R.T
    result = any_model.compute(rotated)
    assert result["energy"] == pytest.approx(reference["energy"], rel=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"] @ R.T, atol=1e-10)
    np.testing.assert_allclose(result["virial"], R @ reference["virial"] @ R.T, atol=1e-10)


def test_permutation_of_like_atoms(any_model):
    atoms = random_triclinic(seed=13)
    reference = any_model.compute(atoms)
    order = np.random.default_rng(0).permutation(len(atoms))
    permuted = atoms[order]
    result = any_model.compute(permuted)
    assert result["energy"] == pytest.approx(reference["energy"], rel=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"][order], atol=1e-10)
    np.testing.assert_allclose(result["energies"], reference["energies"][order], atol=1e-10)


def test_supercell_gives_equal_per_atom_energies(any_model):
    atoms = random_triclinic(n_atoms=10, seed=14)
    reference = any_model.compute(atoms)
    supercell = atoms.repeat((2, 2, 3))
    result = any_model.compute(supercell)
    n = len(atoms)
    per_image = result["energies"].reshape(12, n)
    np.testing.assert_allclose(per_image, np.tile(reference["energies"], (12, 1)), rtol=1e-10, atol=1e-10)
    assert result["energy"] == pytest.approx(12 * reference["energy"], rel=1e-10)
    np.testing.assert_allclose(result["forces"].reshape(12, n, 3), np.tile(reference["forces"], (12, 1, 1)),
                               atol=1e-10)
    np.testing.assert_allclose(result["stress"], reference["stress"], atol=1e-10)


def test_small_cell_with_cutoff_beyond_half_the_box(any_model):
    """Several images of one atom are distinct neighbours: a 2-atom cell equals its 3x3x3 supercell."""
    atoms = random_triclinic(n_atoms=2, seed=15, density=0.09)
    assert min(atoms.cell.lengths()) < 2 * any_model.cutoff
    reference = any_model.compute(atoms)
    result = any_model.compute(atoms.repeat((3, 3, 3)))
    assert result["energy"] == pytest.approx(27 * reference["energy"], rel=1e-10)
