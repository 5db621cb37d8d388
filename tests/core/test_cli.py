"""The nnpkit command-line tool."""

import subprocess
import sys

import ase.io
import numpy as np
from ase.build import bulk

from nnpkit.cli import main


def test_inspect(bp_committee, capsys):
    assert main(["inspect", bp_committee.path]) == 0
    out = capsys.readouterr().out
    assert "species:           Cu Ni" in out
    assert "committee size:    3" in out
    assert "cutoff:            4.5 Ang" in out


def test_inspect_json(bp_model, capsys):
    import json

    assert main(["inspect", "--json", bp_model.path]) == 0
    assert json.loads(capsys.readouterr().out)["species"] == ["Cu", "Ni"]


def test_eval_reads_any_ase_format(bp_model, tmp_path, capsys):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.numbers[1] = 28
    atoms.rattle(0.05, seed=2)
    path = tmp_path / "structure.extxyz"
    atoms.write(path)
    assert main(["eval", bp_model.path, str(path)]) == 0
    out = capsys.readouterr().out
    expected = bp_model.compute(ase.io.read(path))
    assert f"{expected['energy']:.10f} eV" in out
    assert f"{np.linalg.norm(expected['forces'], axis=1).max():.6f} eV/Ang" in out
    assert "stress (GPa)" in out


def test_errors_are_reported_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nnpkit.cli", "inspect", str(tmp_path / "missing.pt")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "model file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_paths_lists_the_core_library(capsys):
    assert main(["paths"]) == 0
    assert "core-library:" in capsys.readouterr().out


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("nnpkit") or str(__import__("pathlib").Path(sys.executable).parent / "nnpkit")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "inspect" in proc.stdout
