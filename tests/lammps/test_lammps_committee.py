"""Committee deviation from pair_style nnp: DeePMD-kit's model_devi layout with
the Python API's numbers on 1 and 2 ranks, a dumpable per-atom force deviation,
and its maximum stopping a run through fix halt."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_triclinic
from lammps_support import lmp, plugin_path, run_lmp, wrapped, write_data  # noqa: F401 (lmp is a fixture)

HEADER = ["step", "max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f"]


def expected_deviation(model, atoms) -> tuple[np.ndarray, np.ndarray]:
    """(model_devi columns 1-6, per-atom force deviation) from the Python API."""
    result = model.compute(atoms, committee_statistics=True)
    f_dev = result["forces_std"]
    virials = result["member_virials"]  # [M, 3, 3]
    v_dev = virials.std(axis=0).ravel() / len(atoms)
    row = np.array([v_dev.max(), v_dev.min(), v_dev.mean(), f_dev.max(), f_dev.min(), f_dev.mean()])
    return row, f_dev


@pytest.mark.parametrize("ranks", [1, 2])
def test_model_devi_file_matches_python(tmp_path, bp_committee, ranks):
    atoms = wrapped(random_triclinic(n_atoms=14, seed=12))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    run_lmp(f"""
plugin load {plugin_path()}
units metal
atom_style atomic
read_data s.data
pair_style nnp {bp_committee.path} dev_every 2 dev_file devi.out
pair_coeff * * Cu Ni
dump d all custom 1 dev.dump id d_nnp_force_dev
dump_modify d sort id format float %.17g
run 0
undump d
velocity all create 300 12345
fix integrate all nve
run 4
""", tmp_path, ranks=ranks)
    lines = (tmp_path / "devi.out").read_text().splitlines()
    assert lines[0].lstrip("#").split() == HEADER
    table = np.loadtxt(tmp_path / "devi.out", ndmin=2)
    assert list(table[:, 0]) == [0, 2, 4]  # step 0 written once although two runs start there
    row, per_atom = expected_deviation(bp_committee, atoms)
    assert per_atom.max() > 1e-3
    np.testing.assert_allclose(table[0, 1:], row, rtol=1e-9, atol=1e-14)
    dumped = np.loadtxt(tmp_path / "dev.dump", skiprows=9)
    np.testing.assert_allclose(dumped[:, 1], per_atom, rtol=1e-9, atol=1e-14)


def test_fix_halt_stops_on_force_deviation(lmp, tmp_path, bp_committee):
    atoms = wrapped(random_triclinic(n_atoms=14, seed=12))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    _, per_atom = expected_deviation(bp_committee, atoms)
    threshold = 0.5 * per_atom.max()
    lmp.commands_string(f"""
units metal
atom_style atomic
read_data {tmp_path / 's.data'}
pair_style nnp {bp_committee.path} dev_every 1 dev_file {tmp_path / 'devi.out'}
pair_coeff * * Cu Ni
compute dev all pair nnp
variable max_dev equal c_dev[4]
fix integrate all nve
fix stop all halt 1 v_max_dev > {threshold} error soft
thermo_style custom step pe v_max_dev
run 20
""")
    assert lmp.get_thermo("step") == 1  # the deviation already exceeded the threshold at step 0
    assert lmp.extract_variable("max_dev") > threshold


def test_no_deviation_cost_without_dev_every(lmp, tmp_path, bp_committee):
    """Without dev_every a committee is evaluated as its mean, no file is written."""
    atoms = wrapped(random_triclinic(n_atoms=10, seed=1))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    lmp.commands_string(f"""
units metal
atom_style atomic
read_data {tmp_path / 's.data'}
pair_style nnp {bp_committee.path}
pair_coeff * * Cu Ni
run 0
""")
    assert lmp.get_thermo("pe") == pytest.approx(bp_committee.compute(atoms)["energy"], rel=1e-10)
    assert not (tmp_path / "model_devi.out").exists()
