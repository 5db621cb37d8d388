"""Converted models (n2p2 Cu2S, ANI-2x) run unchanged in LAMMPS and OpenMM and
give the Python API's numbers (<= 1e-10 relative, double precision)."""

from __future__ import annotations

import numpy as np
import pytest

import nnpkit
from conftest import shared_data
from lammps_support import (evaluation_commands, lower_triangular, plugin_path, read_evaluation, run_lmp,
                             write_data)


def assert_close(actual, expected, what: str, rel: float = 1e-10) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    error = np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)
    assert error <= rel, f"{what}: relative error {error:.3g} > {rel:g}"


@pytest.fixture(scope="module")
def cu2s(tmp_path_factory):
    from nnpkit.convert.n2p2 import convert
    from nnpkit.io import read_n2p2_data

    directory = shared_data("n2p2", "Cu2S_PBE")
    work = tmp_path_factory.mktemp("cu2s")
    path = convert(str(directory), str(work / "cu2s.pt"), progress=lambda *a, **k: None)
    atoms = lower_triangular(read_n2p2_data(directory / "input.data")[0])
    return nnpkit.load(path), atoms, work


@pytest.fixture(scope="module")
def ani2x(tmp_path_factory):
    from nnpkit.convert.ani import convert_neurochem

    info = shared_data("ani-model-zoo", "resources", "ani-2x_8x.info")
    work = tmp_path_factory.mktemp("ani2x")
    return nnpkit.load(convert_neurochem(info, work / "ani2x.pt", members=[0, 1])), work


@pytest.mark.parametrize("ranks", [1, 2])
def test_n2p2_model_in_lammps(cu2s, ranks):
    model, atoms, work = cu2s
    plugin_path()
    elements = model.species
    write_data(atoms, work / "cu2s.data", elements)
    run_dir = work / f"np{ranks}"
    run_dir.mkdir(exist_ok=True)
    run_lmp(f"""
units metal
atom_style atomic
boundary p p p
read_data ../cu2s.data
pair_style nnp {model.path}
pair_coeff * * {' '.join(elements)}
""" + evaluation_commands("cu2s"), run_dir, ranks=ranks)
    got = read_evaluation(run_dir, "cu2s")
    expected = model.compute(atoms, extrapolation=False)
    assert_close(got["energy"], expected["energy"], "energy")
    assert_close(got["forces"], expected["forces"], "forces")
    assert_close(got["virial"], expected["virial"], "virial")


def test_ani_model_in_lammps(ani2x):
    from ani_reference import water_box

    model, work = ani2x
    plugin_path()
    atoms = lower_triangular(water_box(81))
    write_data(atoms, work / "water.data", ["H", "O"])
    run_lmp(f"""
units real
atom_style atomic
boundary p p p
read_data water.data
pair_style nnp {model.path}
pair_coeff * * H O
""" + evaluation_commands("water"), work)
    got = read_evaluation(work, "water", units="real")
    expected = model.compute(atoms, committee_statistics=False)
    from ase.units import kcal, mol

    ev_per_kcalmol = kcal / mol
    assert_close(got["energy"] * ev_per_kcalmol, expected["energy"], "energy")
    assert_close(got["forces"] * ev_per_kcalmol, expected["forces"], "forces")


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_ani_model_in_openmm(ani2x, platform):
    openmm = pytest.importorskip("openmm")
    from ase.build import molecule
    from openmm_helpers import context_for, energy_forces, import_plugin, make_system, reference

    nnp_openmm = import_plugin()
    model, _ = ani2x
    atoms = molecule("CH3SCH3")
    atoms.append("Cl")
    atoms.positions[-1] = [0.0, 0.0, 3.5]
    numbers = list(atoms.numbers)
    system = make_system(numbers)
    system.addForce(nnp_openmm.NNPForce(model.path, numbers))
    energy, forces = energy_forces(context_for(system, atoms.positions, platform=platform))
    ref_energy, ref_forces, _ = reference(model, atoms.positions, numbers)
    assert_close(energy, ref_energy, "energy")
    assert_close(forces, ref_forces, "forces")


def test_n2p2_model_in_openmm(cu2s):
    pytest.importorskip("openmm")
    from openmm_helpers import context_for, energy_forces, import_plugin, make_system, reference

    nnp_openmm = import_plugin()
    model, atoms, _ = cu2s
    numbers = list(atoms.numbers)
    system = make_system(numbers, cell=atoms.cell.array)
    force = nnp_openmm.NNPForce(model.path, numbers)
    force.setUsesPeriodicBoundaryConditions(True)
    system.addForce(force)
    energy, forces = energy_forces(context_for(system, atoms.positions))
    ref_energy, ref_forces, _ = reference(model, atoms.positions, numbers, cell=atoms.cell.array, pbc=True)
    assert_close(energy, ref_energy, "energy")
    assert_close(forces, ref_forces, "forces")
