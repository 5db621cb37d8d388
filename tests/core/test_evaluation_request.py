"""One vocabulary for what an evaluation computes, in every Python layer: committee
statistics only when asked for (``committee_statistics``, the old ``committee=``
still accepted with a DeprecationWarning), energy-only requests without a backward
pass, and the core's typed errors with the atoms' indices."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import nnpkit
from conftest import export_nan_gradient_model, random_triclinic
from nnpkit import _core
from nnpkit.ase import NNPCalculator
from nnpkit.cli import main

SPREAD_KEYS = ("energy_std", "member_energies", "member_forces", "forces_std", "member_virials")


def test_committee_statistics_are_off_by_default(bp_committee):
    atoms = random_triclinic(n_atoms=10, seed=41)
    mean_only = bp_committee.compute(atoms)
    assert not any(key in mean_only for key in SPREAD_KEYS)
    with_spread = bp_committee.compute(atoms, committee_statistics=True)
    assert all(key in with_spread for key in SPREAD_KEYS)
    assert with_spread["energy"] == pytest.approx(mean_only["energy"], rel=1e-13)
    np.testing.assert_allclose(with_spread["forces"], mean_only["forces"], rtol=0, atol=1e-12)


def test_committee_keyword_is_deprecated_but_works(bp_committee):
    atoms = random_triclinic(n_atoms=10, seed=42)
    with pytest.warns(DeprecationWarning, match="committee_statistics"):
        old = bp_committee.compute(atoms, committee=True)
    new = bp_committee.compute(atoms, committee_statistics=True)
    for key in ("energy", "energy_std", "forces", "forces_std", "member_forces"):
        np.testing.assert_array_equal(old[key], new[key], err_msg=key)
    with pytest.warns(DeprecationWarning):
        assert "energy_std" not in bp_committee.compute(atoms, committee=False)


def test_ase_energy_only_request_skips_the_backward_pass(model_dir):
    """A model whose gradient is NaN: any backward pass would fail the evaluation."""
    model = nnpkit.load(export_nan_gradient_model(model_dir / "nan-grad-ase.pt", species=("Cu", "Ni")))
    atoms = random_triclinic(n_atoms=8, seed=43)
    atoms.calc = NNPCalculator(model, extrapolation=False)
    assert np.isfinite(atoms.get_potential_energy())
    assert "forces" not in atoms.calc.results
    with pytest.raises(RuntimeError, match="non-finite energy or force"):
        atoms.get_forces()


def test_ase_forces_after_energy_are_those_of_a_full_evaluation(bp_committee):
    atoms = random_triclinic(n_atoms=10, seed=44)
    atoms.calc = NNPCalculator(bp_committee)
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    direct = bp_committee.compute(atoms)
    assert energy == pytest.approx(direct["energy"], rel=1e-13)
    np.testing.assert_allclose(forces, direct["forces"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), direct["stress"], rtol=0, atol=1e-12)


def test_eval_prints_a_committees_spread_unless_told_not_to(bp_committee, bp_model, tmp_path, capsys):
    """nnpkit eval shows a committee's spread by default (per structure and the largest
    over the file, with where it is), and only the mean with --no-committee-statistics;
    a single model prints no spread and needs no flag."""
    path = tmp_path / "s.extxyz"
    structures = [random_triclinic(n_atoms=10, seed=45), random_triclinic(n_atoms=10, seed=46)]
    from ase.io import read, write

    write(path, structures)
    # From the file as eval reads it (extxyz rounds the positions).
    expected = [bp_committee.compute(a, committee_statistics=True) for a in read(path, ":")]
    assert main(["eval", bp_committee.path, str(path)]) == 0
    out = capsys.readouterr().out
    for e in expected:
        assert f"energy std {e['energy_std']:.6f} eV" in out
        assert f"max force deviation {e['forces_std'].max():.6f} eV/Ang" in out
    worst = max(range(2), key=lambda k: expected[k]["forces_std"].max())
    atom = int(expected[worst]["forces_std"].argmax())
    assert "committee spread (2 structures):" in out
    assert (f"force deviation    max {expected[worst]['forces_std'].max():.6e}  eV/Ang "
            f"(structure {worst}, atom {atom})") in out
    assert main(["eval", bp_committee.path, str(path), "--summary"]) == 0
    assert "committee spread (2 structures):" in capsys.readouterr().out  # the summary keeps it
    assert main(["eval", bp_committee.path, str(path), "--no-committee-statistics"]) == 0
    out = capsys.readouterr().out
    assert "committee" not in out and "structure 1: 10 atoms" in out
    assert main(["eval", bp_model.path, str(path)]) == 0
    assert "committee" not in capsys.readouterr().out


def test_typed_errors_carry_the_atoms(bp_model):
    atoms = random_triclinic(seed=46)
    atoms.numbers[3] = 8
    with pytest.raises(nnpkit.UnknownElementError, match="atom 3 is O") as unknown:
        bp_model.compute(atoms)
    assert (unknown.value.atom, unknown.value.atomic_number) == (3, 8)

    atoms = random_triclinic(seed=46)
    atoms.positions[5, 0] = np.nan
    with pytest.raises(nnpkit.NonFinitePositionError, match="atom 5 is not finite") as non_finite:
        bp_model.compute(atoms)
    assert non_finite.value.atom == 5

    with pytest.raises(nnpkit.AtomsTooCloseError, match="atoms 1 and 2 overlap") as too_close:
        bp_model.compute(Atoms("Cu3", positions=[[0, 0, 0], [3.0, 0, 0], [3.0, 0, 1e-5]]))
    assert sorted(too_close.value.atoms) == [1, 2]
    assert too_close.value.distance == pytest.approx(1e-5)
    assert too_close.value.min_distance >= 1e-4
    # The edge path (the one LAMMPS takes) names the atom whose edges are all non-finite.
    core = _core.Model(bp_model.path)
    positions = np.array([[0.0, 0.0, 0.0], [2.2, 0.0, 0.0], [0.0, 2.3, 0.0], [0.0, 0.0, 2.4]])
    for value in (np.nan, np.inf):
        positions[2, 1] = value
        pairs = np.array([(i, j) for i in range(4) for j in range(4) if i != j]).T
        with pytest.raises(nnpkit.NonFinitePositionError, match="position of atom 2 is not finite") as from_edges:
            core.evaluate(np.zeros(4, dtype=np.int64), pairs, positions[pairs[1]] - positions[pairs[0]], 4)
        assert from_edges.value.atom == 2
    # All of them are InputErrors (ValueError), as before.
    assert issubclass(nnpkit.UnknownElementError, nnpkit.InputError)
    assert issubclass(nnpkit.NonFinitePositionError, ValueError)
