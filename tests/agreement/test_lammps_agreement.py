"""pair_style nnp gives the Python API's energy, forces, virial and per-atom
energies and virials (<= 1e-10 relative, float64), for a local (BP) and a
two-layer message-passing model, orthorhombic and triclinic boxes, on 1, 2 and 4
MPI ranks, including a decomposition in which ranks own no atoms."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from conftest import random_triclinic
from lammps_support import plugin_path, read_evaluation, run_lmp, wrapped, write_data

ELEMENTS = ["Cu", "Ni"]


def orthorhombic_alloy() -> Atoms:
    """Distorted fcc Cu-Ni, 32 atoms in a 7.2 Angstrom cube: smaller than the
    message-passing model's reach, so ghosts include several images of an atom."""
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    rng = np.random.default_rng(7)
    atoms.numbers[rng.permutation(len(atoms))[:12]] = 28
    atoms.positions += rng.normal(scale=0.12, size=atoms.positions.shape)
    return atoms


def slab_with_empty_region() -> Atoms:
    """Atoms only in the left 45% of a long periodic box: with processors N 1 1
    the right-hand ranks own no atom but hold ghosts."""
    rng = np.random.default_rng(11)
    cell = np.diag([16.0, 7.5, 7.5])
    positions: list[np.ndarray] = []
    while len(positions) < 14:
        trial = rng.random(3) * [7.0, 7.5, 7.5]
        probe = Atoms("X" * (len(positions) + 1), positions=positions + [trial], cell=cell, pbc=True)
        if not positions or probe.get_distances(len(positions), range(len(positions)), mic=True).min() > 2.0:
            positions.append(trial)
    return Atoms(numbers=[29, 28] * 7, positions=positions, cell=cell, pbc=True)


STRUCTURES = {
    "ortho": orthorhombic_alloy,
    "tric": lambda: random_triclinic(n_atoms=14, seed=2),
    "empty": slab_with_empty_region,
}
CASES = [(m, s) for m in ("bp", "mp") for s in STRUCTURES]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bp_model, mp_model):
    plugin_path()
    work = tmp_path_factory.mktemp("agreement")
    models = {"bp": bp_model, "mp": mp_model}
    structures = {name: wrapped(make()) for name, make in STRUCTURES.items()}
    for name, atoms in structures.items():
        write_data(atoms, work / f"{name}.data", ELEMENTS)
    reference = {
        (m, s): models[m].compute(structures[s], atom_virials=True) for m, s in CASES
    }
    return work, models, reference


def lammps_results(work, models, ranks: int) -> dict:
    run_dir = work / f"np{ranks}"
    run_dir.mkdir(exist_ok=True)
    script = [f"plugin load {plugin_path()}"]
    for m, s in CASES:
        grid = f"processors {ranks} 1 1" if s == "empty" else ""
        script.append(f"""
clear
units metal
atom_style atomic
boundary p p p
{grid}
read_data ../{s}.data
pair_style nnp {models[m].path}
pair_coeff * * {' '.join(ELEMENTS)}
""" + evaluation_commands(f"{m}_{s}"))
    run_lmp("\n".join(script), run_dir, ranks=ranks)
    return {(m, s): read_evaluation(run_dir, f"{m}_{s}") for m, s in CASES}


from lammps_support import evaluation_commands  # noqa: E402


def assert_close(actual, expected, what: str, rel: float = 1e-10) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.abs(expected).max(), 1e-300)
    error = np.abs(actual - expected).max() / scale
    assert error <= rel, f"{what}: relative error {error:.3g} > {rel:g}"


@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_lammps_equals_python_api(setup, ranks):
    work, models, reference = setup
    results = lammps_results(work, models, ranks)
    for case in CASES:
        got, want = results[case], reference[case]
        name = f"{case[0]} {case[1]} np={ranks}"
        assert np.abs(want["forces"]).max() > 1e-3, "the test needs non-trivial forces"
        assert got["energy"] == pytest.approx(want["energy"], rel=1e-10, abs=0), name
        assert_close(got["forces"], want["forces"], f"{name} forces")
        assert_close(got["virial"], 0.5 * (want["virial"] + want["virial"].T), f"{name} virial")
        assert_close(got["energies"], want["energies"], f"{name} per-atom energies")
        assert_close(got["atom_virials"], want["atom_virials"], f"{name} centroid per-atom virials")
        voigt = want["atom_virials"][:, [0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
        assert_close(got["atom_virials_voigt"], voigt, f"{name} per-atom virials")
