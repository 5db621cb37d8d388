"""Writing model files loses nothing: a failed conversion, check or export leaves the
existing file as it was; broken modules (wrong output shape, NaN, a committee size
that disagrees with the output) are refused before anything is renamed over it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from ase.build import bulk

import nnpkit
from conftest import make_bp
from nnpkit.convert.torch import convert_module

MODULE = '''
import torch

class Pair(torch.nn.Module):
    """Per-atom energies from a smooth pair term; `mode` breaks it on purpose."""
    def __init__(self, mode: str = "ok"):
        super().__init__()
        self.species = ["Cu"]
        self.cutoff = 4.0
        self.mode = mode
        self.scale = torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64))

    def forward(self, species, edge_index, edge_vectors, n_local: int):
        r = (edge_vectors * edge_vectors).sum(1).sqrt()
        pair = torch.where(r < 4.0, self.scale * (4.0 - r) ** 2, torch.zeros_like(r))
        if self.mode == "far":  # reads beyond its declared cutoff: only the check can tell
            pair = pair + torch.where(r >= 4.0, torch.full_like(r, 0.1), torch.zeros_like(r))
        e = torch.zeros(species.shape[0], dtype=edge_vectors.dtype).index_add(0, edge_index[0], pair)
        if self.mode == "nan":
            return e * float("nan")
        if self.mode == "shape":
            return e[:1]
        return e

def good():
    return Pair("ok")

def nan():
    return Pair("nan")

def shape():
    return Pair("shape")

def far():
    return Pair("far")
'''


@pytest.fixture
def module_file(tmp_path):
    path = tmp_path / "pair.py"
    path.write_text(MODULE)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnpkit.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("builder, message", [("nan", "non-finite"), ("shape", "wrong shape|shape")])
def test_broken_module_never_replaces_a_good_model(module_file, tmp_path, builder, message):
    target = tmp_path / "existing.pt"
    assert _cli("convert", "torch", f"{module_file}:good", "-o", str(target)).returncode == 0
    before = target.read_bytes()
    proc = _cli("convert", "torch", f"{module_file}:{builder}", "-o", str(target))  # no --check: still refused
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "left unchanged" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.pt", "pair.py"]  # no temporary file left


def test_failed_check_keeps_the_existing_file(module_file, tmp_path):
    target = tmp_path / "existing.pt"
    structure = tmp_path / "cu.extxyz"
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=1)
    atoms.write(structure)
    assert _cli("convert", "torch", f"{module_file}:good", "-o", str(target), "--check", str(structure)).returncode == 0
    before = target.read_bytes()
    proc = _cli("convert", "torch", f"{module_file}:far", "-o", str(target), "--check", str(structure))
    assert proc.returncode == 1 and "check failed" in proc.stderr and "left unchanged" in proc.stderr
    assert target.read_bytes() == before


def test_export_validates_before_renaming(tmp_path):
    target = tmp_path / "model.pt"
    nnpkit.export(make_bp(), target)
    before = target.read_bytes()
    broken = make_bp()
    with torch.no_grad():
        broken.energy_offset.fill_(float("nan"))
    with pytest.raises(ValueError, match="non-finite.*left unchanged"):
        nnpkit.export(broken, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_committee_size_that_disagrees_with_the_output_is_refused(tmp_path):
    with pytest.raises(ValueError, match="1 committee members, but its metadata declares committee_size 3"):
        nnpkit.export(make_bp(), tmp_path / "m.pt", committee_size=3)
    assert not (tmp_path / "m.pt").exists()


def test_converted_modules_record_a_documented_min_distance(module_file, tmp_path):
    from nnpkit.convert.torch import load_module
    from nnpkit.export import DEFAULT_MIN_DISTANCE

    meta = nnpkit.load(convert_module(load_module(f"{module_file}:good"), tmp_path / "m.pt")).metadata
    assert meta["min_distance"] == pytest.approx(DEFAULT_MIN_DISTANCE)
    assert "default" in meta["min_distance_source"]


def test_members_listed_twice_are_refused_before_reading_networks(monkeypatch, tmp_path):
    import nnpkit.convert.ani as ani

    monkeypatch.setattr(ani, "_info_entries", lambda p: (tmp_path / "c", tmp_path / "s", tmp_path / "n", 8))
    monkeypatch.setattr(ani, "read_aev_parameters", lambda p: (None, ["H"]))
    monkeypatch.setattr(ani, "read_self_energies", lambda p: {"H": -0.5})
    with pytest.raises(ValueError, match=r"member\(s\) 0 chosen more than once"):
        ani.read_neurochem(tmp_path / "x.info", members=[0, 0])
    proc = _cli("convert", "ani", str(tmp_path / "x.info"), "-o", str(tmp_path / "o.pt"), "--members", "0,a")
    assert proc.returncode == 1 and "--members must be comma-separated" in proc.stderr


def test_metadata_is_json(tmp_path):
    path = nnpkit.export(make_bp(), tmp_path / "m.pt", min_distance=1.5, min_distance_source="test")
    meta = nnpkit.load(path).metadata
    assert json.loads(json.dumps(meta))["min_distance_source"] == "test"
