"""Extrapolation warnings in LAMMPS (pair_style nnp showew / showewsum / maxew /
resetew, as n2p2's LAMMPS interface has them): the per-atom counts, the printed
warnings and the summary equal the Python API's counts exactly, on 1 and 2 MPI
ranks; maxew stops the run; models without a range warn and run."""

from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest

import nnpkit
from conftest import make_bp, shared_data
from extrapolation_support import compressed, copper_structures, fit_range
from lammps_support import (lammps_instance, lmp, lower_triangular, plugin_path, run_lmp,  # noqa: F401
                             wrapped, write_data)

WARNING_LINE = re.compile(r"### NNP EXTRAPOLATION WARNING ### STEP:\s+(\d+) ATOM:\s+(\d+) ELEMENT:\s+(\w+) "
                          r"COUNT:\s+(\d+)")
SUMMARY_LINE = re.compile(r"### NNP EW SUMMARY ### TS:\s+(\d+) EW\s+(\d+) EWPERSTEP")


def python_counts(model: nnpkit.Model, atoms) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
        return model.compute(atoms)["extrapolation_counts"]


@pytest.fixture(scope="module")
def cu2s(tmp_path_factory):
    """Converted n2p2 Cu2S model and its structure compressed to 94%: 28 of 144 atoms outside the range."""
    from nnpkit.convert.n2p2 import convert
    from nnpkit.io import read_n2p2_data

    directory = shared_data("n2p2", "Cu2S_PBE")
    work = tmp_path_factory.mktemp("cu2s")
    model = nnpkit.load(convert(str(directory), str(work / "cu2s.pt"), progress=lambda *a, **k: None))
    atoms = lower_triangular(compressed(read_n2p2_data(directory / "input.data")[0], 0.94))
    return model, atoms


@pytest.fixture(scope="module")
def fitted_bp(tmp_path_factory):
    """Copper BP model whose training range is fitted to rattled crystals; a 32-atom
    crystal inside that range and the same with one atom pushed towards its neighbours."""
    from ase.build import bulk

    module = make_bp(species=("Cu",), seed=4)
    fit_range(module, copper_structures(8, seed=0))
    model = nnpkit.load(nnpkit.export(module, tmp_path_factory.mktemp("bp") / "fitted.pt"))
    inside = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
    inside.rattle(0.03, seed=1)
    partly = inside.copy()
    partly.positions[0] += [0.7, 0.7, 0.0]
    return model, wrapped(inside), wrapped(partly)


def script(model: nnpkit.Model, data: pathlib.Path, keywords: str, commands: str = "run 0") -> str:
    return f"""
units metal
atom_style atomic
read_data {data}
pair_style nnp {model.path} {keywords}
pair_coeff * * {' '.join(model.species)}
compute ew all pair nnp
thermo_style custom step pe c_ew[7] c_ew[8]
{commands}
"""


def assert_lammps_counts_equal_python(model: nnpkit.Model, atoms, work: pathlib.Path, ranks: int) -> None:
    expected = python_counts(model, atoms)
    assert 0 < np.count_nonzero(expected) < len(atoms), "the structure should be partly outside the range"
    write_data(atoms, work / "s.data", model.species)
    log = run_lmp(script(model, work / "s.data", "showew yes showewsum 1", """
dump d all custom 1 ew.dump id i_nnp_extrapolation
dump_modify d sort id
run 0
print "$(c_ew[7]) $(c_ew[8])" file ew.txt screen no
"""), work, ranks=ranks)
    # per-atom counts (dump), sorted by atom id = Python's atom order
    dumped = np.loadtxt(work / "ew.dump", skiprows=9, dtype=np.int64, ndmin=2)
    np.testing.assert_array_equal(dumped[:, 0], np.arange(1, len(atoms) + 1))
    np.testing.assert_array_equal(dumped[:, 1], expected)
    # one printed warning per flagged atom: tag, element and count
    printed = {int(tag): (element, int(count)) for _, tag, element, count in WARNING_LINE.findall(log)}
    symbols = atoms.get_chemical_symbols()
    assert printed == {i + 1: (symbols[i], int(c)) for i, c in enumerate(expected) if c > 0}
    # the summary and compute pair nnp: the total over all ranks
    assert [(int(step), int(n)) for step, n in SUMMARY_LINE.findall(log)] == [(0, int(expected.sum()))]
    latest, counted = np.loadtxt(work / "ew.txt")
    assert latest == counted == expected.sum()


@pytest.mark.parametrize("ranks", [1, 2])
def test_cu2s_counts_equal_python(cu2s, tmp_path, ranks):
    plugin_path()
    model, atoms = cu2s
    assert_lammps_counts_equal_python(model, atoms, tmp_path, ranks)


@pytest.mark.parametrize("ranks", [1, 2])
def test_fitted_bp_counts_equal_python(fitted_bp, tmp_path, ranks):
    plugin_path()
    model, _, partly = fitted_bp
    assert_lammps_counts_equal_python(model, partly, tmp_path, ranks)


def test_inside_the_range_no_warnings(lmp, fitted_bp, tmp_path):
    model, inside, _ = fitted_bp
    assert not python_counts(model, inside).any()
    write_data(inside, tmp_path / "s.data", model.species)
    # maxew 0: the first warning would stop the run
    lmp.commands_string(script(model, tmp_path / "s.data", "showew yes showewsum 1 maxew 0", "run 3"))
    assert lmp.extract_compute("ew", 0, 1)[6] == 0
    assert not np.asarray(lmp.numpy.extract_atom("i_nnp_extrapolation")[: len(inside)]).any()


def test_maxew_stops_the_run(fitted_bp, tmp_path, monkeypatch):
    """n2p2's semantics: the run stops when the counter exceeds maxew; the counter
    accumulates over the trajectory, or with resetew yes counts one step."""
    model, _, partly = fitted_bp
    total = int(python_counts(model, partly).sum())
    write_data(partly, tmp_path / "s.data", model.species)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    def run(keywords: str, commands: str) -> None:
        instance = lammps_instance()
        try:
            instance.commands_string(script(model, tmp_path / "s.data", keywords, commands))
        finally:
            instance.close()

    # atoms do not move without an integrator: every step has `total` warnings
    run(f"maxew {total}", "run 0")
    with pytest.raises(Exception, match=rf"too many extrapolation warnings: {total} since the start exceed "
                                        rf"maxew {total - 1} at step 0"):
        run(f"maxew {total - 1}", "run 0")
    with pytest.raises(Exception, match=rf"{2 * total} since the start exceed maxew {total} at step 1"):
        run(f"maxew {total}", "run 2")
    run(f"maxew {total} resetew yes", "run 2")


def test_model_without_range_warns_and_runs(lmp, mp_model, tmp_path):
    from conftest import random_triclinic

    assert not mp_model.provides_extrapolation
    atoms = wrapped(random_triclinic(n_atoms=10, seed=5))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ni"])
    lmp.command(f"log {tmp_path / 'log.lammps'}")
    lmp.commands_string(script(mp_model, tmp_path / "s.data", "showew yes showewsum 1 maxew 0 resetew yes"))
    log = (tmp_path / "log.lammps").read_text()
    assert log.count("provides no extrapolation check") == 1
    assert "showew, showewsum, maxew and resetew are ignored" in log
    assert "NNP EW SUMMARY" not in log
    assert lmp.get_thermo("pe") == pytest.approx(mp_model.compute(atoms)["energy"], rel=1e-10)


@pytest.mark.parametrize(
    "keywords, message",
    [
        ("showew maybe", "showew must be yes or no, got 'maybe'"),
        ("resetew 2", "resetew must be yes or no, got '2'"),
        ("showewsum -5", "showewsum must be a non-negative integer, got '-5'"),
        ("showewsum ten", "showewsum must be a non-negative integer, got 'ten'"),
        ("maxew 1.5", "maxew must be a non-negative integer, got '1.5'"),
        ("maxew", "pair_style nnp maxew"),
    ],
)
def test_bad_keyword_values(lmp, bp_model, tmp_path, keywords, message):
    write_data(wrapped(copper_structures(1, seed=1)[0]), tmp_path / "s.data", ["Cu"])
    with pytest.raises(Exception, match=message):
        lmp.commands_string(f"units metal\natom_style atomic\nread_data {tmp_path / 's.data'}\n"
                            f"pair_style nnp {bp_model.path} {keywords}")


def test_settings_survive_restart(lmp, fitted_bp, tmp_path):
    model, _, partly = fitted_bp
    total = int(python_counts(model, partly).sum())
    write_data(partly, tmp_path / "s.data", model.species)
    lmp.commands_string(script(model, tmp_path / "s.data", f"maxew {total - 1} resetew yes showewsum 7",
                               f"write_restart {tmp_path / 's.restart'}"))
    lmp.commands_string(f"clear\nread_restart {tmp_path / 's.restart'}\npair_coeff * * Cu")
    with pytest.raises(Exception, match=rf"{total} in this step exceed maxew {total - 1}"):
        lmp.command("run 0")
