"""The LAMMPS examples run as documented, on 2 MPI ranks (short, with test models)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np

from conftest import REPO
from lammps_support import plugin_path, run_lmp

EXAMPLES = REPO / "examples" / "lammps"


def test_copper_example(tmp_path, bp_model):
    plugin_path()
    shutil.copy(EXAMPLES / "copper" / "in.copper", tmp_path)
    script = (tmp_path / "in.copper").read_text()
    header = f"variable model string {bp_model.path}\nvariable cells string 2\nvariable steps string 10\n"
    log = run_lmp(header + script, tmp_path, ranks=2)
    assert "energy drift over 10 steps" in log


def test_alloy_example(tmp_path):
    plugin_path()
    for name in ("in.alloy", "make_model.py"):
        shutil.copy(EXAMPLES / "alloy" / name, tmp_path)
    subprocess.run([sys.executable, "make_model.py"], cwd=tmp_path, check=True, capture_output=True)
    script = (tmp_path / "in.alloy").read_text()
    run_lmp("variable steps string 10\nvariable cells string 3\n" + script, tmp_path, ranks=2)
    table = np.loadtxt(tmp_path / "model_devi.out", ndmin=2)
    assert list(table[:, 0]) == [0, 5, 10] and np.all(table[:, 1:] > 0)
    assert (tmp_path / "deviation.dump").exists()
