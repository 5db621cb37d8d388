"""LAMMPS and OpenMM refuse what would give silent wrong numbers: pairs closer than
the model's min_distance (named by atom ID / particle index, lowered deliberately by
a keyword), compute pair nnp without dev_every; LAMMPS prints an extrapolation summary
per run by default. (NNPForce's element count and its warning for an open force in a
periodic System are tested in tests/openmm/test_openmm_force.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnpkit
from conftest import make_bp
from conftest import random_triclinic
from lammps_support import BOX as ERRORS_BOX, lmp, structure, wrapped, write_data  # noqa: F401 (lmp, structure are fixtures)

BOX = ERRORS_BOX.replace("{units}", "metal").replace("{newton}", "on")


@pytest.fixture(scope="module")
def strict_model(tmp_path_factory):
    """A model whose training data had no pair closer than 1.9 Angstrom."""
    return nnpkit.export(make_bp(), tmp_path_factory.mktemp("strict") / "strict.pt", min_distance=1.9,
                         min_distance_source="the closest pair of atoms in its training data")


def test_lammps_refuses_close_pairs_by_atom_id(lmp, tmp_path, strict_model):
    atoms = wrapped(random_triclinic(n_atoms=10, seed=5))
    atoms.positions[3] = atoms.positions[7] + [0.1, 0, 0]
    write_data(atoms, tmp_path / "o.data", ["Cu", "Ni"])
    with pytest.raises(Exception, match=r"atoms (4 and 8|8 and 4) are 0\.1 apart, closer than the min_distance 1\.9"
                                        r".*add 'min_distance D'"):
        lmp.commands_string(BOX.format(data=tmp_path / "o.data")
                            + f"pair_style nnp {strict_model}\npair_coeff * * Cu Ni\nrun 0")


def test_lammps_min_distance_keyword_lowers_it(lmp, tmp_path, strict_model):
    atoms = wrapped(random_triclinic(n_atoms=10, seed=5))
    atoms.positions[3] = atoms.positions[7] + [0.5, 0, 0]
    write_data(atoms, tmp_path / "o.data", ["Cu", "Ni"])
    lmp.commands_string(BOX.format(data=tmp_path / "o.data")
                        + f"pair_style nnp {strict_model} min_distance 0.3\npair_coeff * * Cu Ni\nrun 0")
    assert np.isfinite(lmp.get_thermo("pe"))


def test_lammps_max_neighbors_bounds_the_work(lmp, structure, bp_model):
    with pytest.raises(Exception, match=r"more than the limit of 2 neighbours per atom \(max_neighbors\)"):
        lmp.commands_string(BOX.format(data=structure)
                            + f"pair_style nnp {bp_model.path} max_neighbors 2\npair_coeff * * Cu Ni\nrun 0")


def test_compute_pair_without_dev_every_is_an_error(lmp, structure, bp_committee):
    with pytest.raises(Exception, match=r"compute dev pair nnp reads the committee deviation.*add 'dev_every N'"):
        lmp.commands_string(BOX.format(data=structure) + f"pair_style nnp {bp_committee.path}\n"
                            "pair_coeff * * Cu Ni\ncompute dev all pair nnp\nthermo_style custom step c_dev[4]\nrun 0")


def test_compute_pair_with_nothing_to_report_shows_nan(lmp, structure, mp_model, tmp_path):
    lmp.command(f"log {tmp_path / 'log.lammps'}")
    lmp.commands_string(BOX.format(data=structure) + f"pair_style nnp {mp_model.path}\n"
                        "pair_coeff * * Cu Ni\ncompute dev all pair nnp\nthermo_style custom step c_dev[4] c_dev[7]\n"
                        "run 0")
    assert "has nothing to report" in (tmp_path / "log.lammps").read_text()
    values = lmp.extract_compute("dev", 0, 1)
    assert np.isnan(values[3]) and np.isnan(values[6])


def test_extrapolation_summary_by_default(tmp_path, structure):
    from lammps_support import run_lmp, plugin_path

    module = make_bp()
    with torch.no_grad():  # a training range that every structure leaves
        module.descriptor_min.fill_(-1.0)
        module.descriptor_max.fill_(0.0)
    model = nnpkit.export(module, tmp_path / "ranged.pt")
    script = (f"plugin load {plugin_path()}\n" + BOX.format(data=structure)
              + f"pair_style nnp {model}\npair_coeff * * Cu Ni\nrun 0\n")
    log = run_lmp(script, tmp_path)
    assert "extrapolation warnings in this run: 1 of 1 evaluations" in log
    assert "### NNP EXTRAPOLATION WARNING" not in log  # showew semantics unchanged: lines only when asked


def test_openmm_refuses_close_pairs_by_particle_index(strict_model):
    from openmm_helpers import context_for, import_plugin, make_system

    nnp_openmm = import_plugin()
    import openmm

    numbers = [29, 28, 29]
    system = make_system(numbers)
    force = nnp_openmm.NNPForce(strict_model, numbers[1:], [1, 2])
    system.addForce(force)
    context = context_for(system, np.array([[0.0, 0, 0], [2.5, 0, 0], [2.5, 0.2, 0]]))
    with pytest.raises(openmm.OpenMMException, match=r"particles (1 and 2|2 and 1) overlap: they are 0\.02\d* nm"):
        context.getState(getEnergy=True)
    force.setMinDistance(0.01)
    context.reinitialize(preserveState=True)
    assert np.isfinite(context.getState(getEnergy=True).getPotentialEnergy()._value)
    restored = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    assert nnp_openmm.NNPForce.cast(restored.getForce(0)).getMinDistance() == pytest.approx(0.01)

