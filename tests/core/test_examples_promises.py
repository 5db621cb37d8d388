"""Examples do what their docstrings say: nnp_md.py minimises before MD, and the
alloy demonstration model promises no repulsion it does not have."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nnpkit
from conftest import REPO


def test_nnp_md_minimises_before_md(tmp_path, monkeypatch):
    pytest.importorskip("openmm")
    from openmm_helpers import import_plugin

    import_plugin()
    monkeypatch.syspath_prepend(str(REPO / "examples" / "openmm"))
    import nnp_md
    from demo_model import demonstration_model

    model = demonstration_model(str(tmp_path / "demo.pt"))
    simulation = nnp_md.build_simulation(str(REPO / "examples" / "openmm" / "water-box.pdb"), model, "CPU", 0.5,
                                         300.0)
    def energy() -> float:
        return simulation.context.getState(getEnergy=True).getPotentialEnergy()._value

    calls = []
    original = simulation.minimizeEnergy
    simulation.minimizeEnergy = lambda **kw: (calls.append(kw), original(**kw))
    start = energy()
    before, after = nnp_md.minimize(simulation, 20, 300.0)
    assert calls == [{"maxIterations": 20}]
    assert energy() <= start + 1e-9 and before > 0 and after > 0
    assert "--minimize" in nnp_md.__doc__ + open(nnp_md.__file__).read()


def test_alloy_model_docstring_matches_the_model(tmp_path):
    source = (REPO / "examples" / "lammps" / "alloy" / "make_model.py").read_text()
    assert "pairwise-repulsive" not in source
    subprocess.run([sys.executable, REPO / "examples" / "lammps" / "alloy" / "make_model.py", "-o",
                    tmp_path / "m.pt"], check=True, capture_output=True)
    assert nnpkit.load(tmp_path / "m.pt").min_distance == pytest.approx(1.0)
