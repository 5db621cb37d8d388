"""Bad input raises a Python exception with a message that names the problem."""

import json
import zipfile

import numpy as np
import pytest
import torch
from ase import Atoms

import nnpkit
from conftest import make_bp, random_triclinic


def test_unknown_element(bp_model):
    atoms = random_triclinic(seed=31)
    atoms.numbers[3] = 8
    with pytest.raises(ValueError, match=r"atom 3 is O, an element this model does not know.*Cu Ni"):
        bp_model.compute(atoms)
    with pytest.raises(ValueError, match="unknown chemical element 'Xx'"):
        bp_model.compute(positions=np.zeros((1, 3)), numbers=["Xx"])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_positions(bp_model, bad):
    atoms = random_triclinic(seed=32)
    atoms.positions[2, 1] = bad
    with pytest.raises(ValueError, match="atom 2 is not finite"):
        bp_model.compute(atoms)


def test_singular_cell(bp_model):
    atoms = random_triclinic(seed=33)
    cell = atoms.cell.array.copy()
    cell[2] = cell[0] + cell[1]
    with pytest.raises(ValueError, match="singular"):
        bp_model.compute(positions=atoms.positions, numbers=atoms.numbers, cell=cell, pbc=True)


def test_overlapping_atoms(bp_model):
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [0.0, 0.0, 1e-6]])
    with pytest.raises(ValueError, match="atoms 0 and 1 overlap"):
        bp_model.compute(atoms)


def test_model_minimum_distance_is_enforced(model_dir):
    model = nnpkit.load(nnpkit.export(make_bp(), model_dir / "mindist.pt", min_distance=1.0))
    with pytest.raises(ValueError, match="overlap"):
        model.compute(Atoms("CuNi", positions=[[0, 0, 0], [0.9, 0, 0]]))
    model.compute(Atoms("CuNi", positions=[[0, 0, 0], [1.1, 0, 0]]))


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        nnpkit.load(tmp_path / "nope.pt")


def test_corrupt_model_file(tmp_path, model_dir):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(RuntimeError, match="not a TorchScript archive or it is corrupt"):
        nnpkit.load(garbage)
    truncated = tmp_path / "truncated.pt"
    data = (model_dir / "bp.pt").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="corrupt"):
        nnpkit.load(truncated)


def test_torchscript_without_metadata(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(make_bp()), str(path))
    with pytest.raises(RuntimeError, match="no nnpkit.json metadata"):
        nnpkit.load(path)


def _rewrite_metadata(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("extra/nnpkit.json"):
                meta = json.loads(data)
                change(meta)
                data = json.dumps(meta).encode()
            zout.writestr(item, data)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=99), "unsupported model format version 99"),
        (lambda m: m.update(species=["Cu", "Qq"]), "'Qq', which is not a chemical element"),
        (lambda m: m.update(length_unit="furlong"), "unknown length unit 'furlong'"),
        (lambda m: m.update(energy_unit="kcal"), "unknown energy unit 'kcal'"),
        (lambda m: m.update(dtype="float16"), "'dtype' must be"),
        (lambda m: m.update(cutoff=-1.0), "'cutoff' must be a positive number"),
        (lambda m: m.update(interaction_range=1.0), "'interaction_range' must not be smaller"),
        (lambda m: m.update(committee_size=0), "'committee_size' must be a positive integer"),
        (lambda m: m.pop("species"), "missing key 'species'"),
    ],
)
def test_invalid_metadata(tmp_path, model_dir, change, message):
    path = tmp_path / "edited.pt"
    _rewrite_metadata(model_dir / "bp.pt", path, change)
    with pytest.raises(RuntimeError, match=message):
        nnpkit.load(path)


def test_export_refuses_mixed_dtypes(tmp_path):
    model = make_bp()
    model.networks[0].members[0][0].weight.data = model.networks[0].members[0][0].weight.data.float()
    with pytest.raises(ValueError, match="mixes floating dtypes"):
        nnpkit.export(model, tmp_path / "mixed.pt")
