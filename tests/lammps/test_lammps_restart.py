"""Restart files, data files and repeated runs with pair_style nnp."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_triclinic
from lammps_support import lmp, wrapped, write_data  # noqa: F401 (lmp is a fixture)

SETUP = """
units metal
atom_style atomic
read_data {data}
pair_style nnp {model}
pair_coeff * * Cu Ni
velocity all create 600 2024 mom yes rot yes
fix integrate all nve
timestep 0.001
thermo_style custom step pe etotal
thermo_modify norm no
"""


def positions(lmp) -> np.ndarray:
    ids = lmp.numpy.extract_atom("id")[: lmp.get_natoms()]
    return np.array(lmp.numpy.extract_atom("x")[: lmp.get_natoms()])[np.argsort(ids)]


def test_restart_and_data_files(lmp, tmp_path, mp_model):
    atoms = wrapped(random_triclinic(n_atoms=12, seed=21))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    lmp.commands_string(SETUP.format(data=tmp_path / "s.data", model=mp_model.path))
    lmp.commands_string(f"""
run 5
write_restart {tmp_path / 'state.restart'}
write_data {tmp_path / 'state.data'}
""")
    energy = lmp.get_thermo("pe")

    # read_restart keeps pair_style nnp and its settings; pair_coeff is given again.
    lmp.commands_string(f"clear\nread_restart {tmp_path / 'state.restart'}")
    with pytest.raises(Exception, match="All pair coeffs are not set"):
        lmp.command("run 0")
    lmp.commands_string(f"clear\nread_restart {tmp_path / 'state.restart'}\npair_coeff * * Cu Ni\nrun 0")
    assert lmp.get_thermo("pe") == pytest.approx(energy, rel=1e-12)

    lmp.commands_string(f"""
clear
units metal
atom_style atomic
read_data {tmp_path / 'state.data'}
pair_style nnp {mp_model.path}
pair_coeff * * Cu Ni
run 0
""")
    assert lmp.get_thermo("pe") == pytest.approx(energy, rel=1e-12)


def test_repeated_runs_without_setup_continue_the_trajectory(lmp, tmp_path, bp_model):
    atoms = wrapped(random_triclinic(n_atoms=10, seed=22))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    setup = SETUP.format(data=tmp_path / "s.data", model=bp_model.path)
    lmp.commands_string(setup + "run 6\n")
    one_go = positions(lmp), lmp.get_thermo("etotal")
    lmp.commands_string("clear\n" + setup + "run 2\nrun 2 pre no post no\nrun 2 pre no post no\n")
    pieces = positions(lmp), lmp.get_thermo("etotal")
    assert lmp.get_thermo("step") == 6
    np.testing.assert_allclose(pieces[0], one_go[0], rtol=0, atol=1e-12)
    assert pieces[1] == pytest.approx(one_go[1], rel=1e-12)
