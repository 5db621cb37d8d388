"""The command line ends in one readable line for bad input, never a traceback;
`nnpkit eval` reports errors against reference labels; the ASE calculator gives the
committee spread on request; warnings point at the user's line."""

from __future__ import annotations

import subprocess
import sys
import warnings

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

import nnpkit
from nnpkit.ase import NNPCalculator


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnpkit.cli", *map(str, args)], capture_output=True, text=True,
                          **kwargs)


def labelled_file(tmp_path, model, n=3):
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.numbers[1] = 28
        atoms.rattle(0.05, seed=k)
        r = model.compute(atoms)
        atoms.calc = SinglePointCalculator(atoms, energy=r["energy"] + 0.01 * (k + 1), forces=r["forces"] + 0.02)
        frames.append(atoms)
    path = tmp_path / "labelled.extxyz"
    ase.io.write(path, frames)
    return path


@pytest.mark.parametrize("content, extra, message", [
    ("", [], "is empty"),
    ("garbage ~~~\nnot a structure\n", [], "cannot read"),
    (None, ["--index", "10"], "--index 10 is out of range: .* holds 3 structures"),
    (None, ["--index", "abc"], "--index must be a structure number"),
    (None, ["--format", "foo"], "unknown --format 'foo'"),
])
def test_eval_bad_input_is_one_line(bp_model, tmp_path, content, extra, message):
    path = labelled_file(tmp_path, bp_model)
    if content is not None:
        path = tmp_path / "bad.xyz"
        path.write_text(content)
    proc = cli("eval", bp_model.path, path, *extra)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    import re

    assert re.search(message, proc.stderr), proc.stderr


def test_eval_reports_errors_against_labels_and_file_positions(bp_model, tmp_path):
    path = labelled_file(tmp_path, bp_model)
    proc = cli("eval", bp_model.path, path)
    assert proc.returncode == 0, proc.stderr
    errors = np.array([0.01, 0.02, 0.03])
    assert "errors against the reference labels (3 structures, 12 atoms)" in proc.stdout
    line = next(l for l in proc.stdout.splitlines() if l.strip().startswith("energy  "))
    assert f"RMSE {np.sqrt(np.mean(errors**2)):.6e}" in line and f"MAE {errors.mean():.6e}" in line
    force_line = next(l for l in proc.stdout.splitlines() if "force components" in l)
    assert f"RMSE {0.02:.6e}" in force_line
    one = cli("eval", bp_model.path, path, "--index", "1")
    assert "structure 1:" in one.stdout and "structure 0:" not in one.stdout
    summary = cli("eval", bp_model.path, path, "--summary")
    assert "structure 0:" not in summary.stdout and "RMSE" in summary.stdout


def test_inspect_into_a_closed_pipe(bp_model):
    proc = subprocess.run(f"'{sys.executable}' -m nnpkit.cli inspect --json '{bp_model.path}' | head -1",
                          shell=True, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"nnpkit {nnpkit.__version__}"


def test_quiet_conversion_still_prints_warnings(tmp_path):
    from n2p2_reference import write_potential

    (tmp_path / "pot").mkdir()
    write_potential(tmp_path / "pot")
    (tmp_path / "pot" / "input.nn").write_text((tmp_path / "pot" / "input.nn").read_text() + "made_up_keyword 1\n")
    proc = cli("convert", "n2p2", tmp_path / "pot", "-o", tmp_path / "m.pt", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "unknown keyword 'made_up_keyword'" in proc.stderr
    assert "reading" not in proc.stderr  # progress stays quiet
    # n2p2 records no distances; scaling.data gives a lower bound when it can, else the documented default
    meta = nnpkit.load(tmp_path / "m.pt").metadata
    assert meta["min_distance"] > 0 and "min_distance_source" in meta


def test_ase_energy_std_on_request(bp_committee):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.numbers[1] = 28
    atoms.rattle(0.1, seed=3)
    atoms.calc = NNPCalculator(bp_committee)
    direct = bp_committee.compute(atoms, committee_statistics=True)
    assert atoms.calc.get_property("energy_std", atoms) == pytest.approx(direct["energy_std"])
    np.testing.assert_allclose(atoms.calc.get_property("forces_std", atoms), direct["forces_std"], rtol=1e-10,
                               atol=1e-12)


def test_warnings_point_at_the_callers_line(tmp_path):
    import torch

    from conftest import make_bp

    module = make_bp()
    with torch.no_grad():  # a training range that every structure leaves
        module.descriptor_min.fill_(-1.0)
        module.descriptor_max.fill_(0.0)
    model = nnpkit.load(nnpkit.export(module, tmp_path / "ranged.pt"))
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.calc = NNPCalculator(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        atoms.get_potential_energy()
    assert caught and all(w.filename == __file__ for w in caught), [w.filename for w in caught]


def test_neighbour_search_is_bounded(bp_model, tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(ValueError, match=r"too small for the cutoff: .* periodic images .* max_images"):
        nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3, 50.0)
    with pytest.raises(ValueError, match=r"more than 1000 neighbours per atom|max_neighbors"):
        nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3, 30.0)
    # a raised limit lets it through
    edge_index, _, _ = nnpkit._core.neighbor_list(atoms.positions, atoms.cell.array, [True] * 3, 30.0,
                                                  max_neighbors=100000)
    assert edge_index.shape[1] > 1000
    # two atoms in a huge box: no overflow, no max_size error
    huge = nnpkit._core.neighbor_list(np.array([[0.0, 0, 0], [1.5, 0, 0]]), np.eye(3) * 1e8, [True] * 3, 4.5)
    assert huge[0].shape[1] == 2
    # the same bound in the model (a metadata cutoff of 50 Angstrom)
    limited = nnpkit.load(bp_model.path, max_neighbors=5)
    with pytest.raises(ValueError, match="max_neighbors"):
        limited.compute(bulk("Cu", "fcc", a=3.6, cubic=True))
