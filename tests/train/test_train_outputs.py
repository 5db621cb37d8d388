"""`nnpkit train` keeps to its output folder, never overwrites a model unasked,
records the training data's closest pair as min_distance, says how to resume after
Ctrl-C, and shows progress from the first second."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

import nnpkit
from conftest import REPO
from morse_data import write_morse_files
from nnpkit.train import load_config, train
from nnpkit.train.trainer import MemberTrainer, TrainingInterrupted



@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_morse_files(tmp_path_factory.mktemp("morse"))


def write_config(tmp_path, data, **output):
    train_path, test_path = data
    values = {
        "model": {"cutoff": 4.2, "hidden": [4], "symmetry_functions": {"n_radial": 3, "r_min": 1.8}},
        "data": {"train": str(train_path), "test": str(test_path), "index": ":12"},
        "training": {"epochs": 2, "batch_size": 4, "progress": False},
        "output": {"directory": "out", "plots": False, **output},
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnpkit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_model_path_outside_the_output_folder_is_refused(tmp_path, data):
    with pytest.raises(ValueError, match="'output.model' must be a file name inside the output folder"):
        load_config(write_config(tmp_path, data, model="../../models/copper-bp.pt"))
    # the bundled example writes inside its output folder
    example = load_config(REPO / "examples" / "train-copper" / "train.yaml")
    assert example.model_path.startswith(example.output_directory)


def test_existing_model_needs_force_and_min_distance_is_recorded(tmp_path, data):
    config_path = write_config(tmp_path, data)
    first = cli("train", config_path, "--no-progress")
    assert first.returncode == 0, first.stderr
    model_path = tmp_path / "out" / "model.pt"
    before = model_path.read_bytes()
    again = cli("train", config_path, "--no-progress")
    assert again.returncode == 1 and "exists: pass --force" in again.stderr and "Traceback" not in again.stderr
    assert model_path.read_bytes() == before
    elsewhere = cli("train", config_path, "--no-progress", "--output", tmp_path / "elsewhere")
    assert elsewhere.returncode == 0 and (tmp_path / "elsewhere" / "model.pt").exists()
    assert cli("train", config_path, "--no-progress", "--force").returncode == 0

    model = nnpkit.load(model_path)
    config = load_config(config_path)
    from ase.io import read
    from ase.neighborlist import neighbor_list

    structures = read(config.data.train[0], index=":12")
    closest = min(neighbor_list("d", a, 4.2).min() for a in structures)
    training_pool = len(model.metadata["training"]) and model.metadata["min_distance"]
    assert closest - 1e-9 <= training_pool <= 4.2  # the closest pair of the training split (test data excluded)
    assert "training data" in model.metadata["min_distance_source"]
    # closer than the training data: refused with both indices and the distance
    atoms = structures[0].copy()
    atoms.positions[1] = atoms.positions[0] + [0.5 * model.min_distance, 0, 0]
    message = r"atoms (0 and 1|1 and 0) overlap: they are [\d.]+ Ang apart, closer than this model.s min_distance"
    with pytest.raises(nnpkit.AtomsTooCloseError, match=message):
        model.compute(atoms)
    relaxed = nnpkit.load(model_path, min_distance=0.1)  # lowered deliberately
    assert np.isfinite(relaxed.compute(atoms)["energy"])


def test_missing_data_points_to_the_generator(tmp_path):
    example = REPO / "examples" / "train-copper"
    if (example / "train.extxyz").exists():
        pytest.skip("the copper data were generated in this checkout")
    proc = cli("train", example / "train.yaml", "--output", tmp_path / "o")
    assert proc.returncode == 1 and "generate_data.py" in proc.stderr


def test_resume_without_checkpoint_is_an_error(tmp_path, data):
    proc = cli("train", write_config(tmp_path, data), "--resume")
    assert proc.returncode == 1 and "no checkpoint to resume from" in proc.stderr


def test_ctrl_c_says_how_to_resume(tmp_path, data, monkeypatch):
    config = load_config(write_config(tmp_path, data))
    config.training.epochs = 5
    calls = {"n": 0}
    original = MemberTrainer.train_epoch

    def interrupted_in_third_epoch(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(MemberTrainer, "train_epoch", interrupted_in_third_epoch)
    with pytest.raises(TrainingInterrupted, match=r"interrupted after epoch 2 of training; .* rerun with --resume"):
        train(config)
    monkeypatch.setattr(MemberTrainer, "train_epoch", original)
    result = train(config, resume=True)
    assert len(result.histories[0]) == 5


def test_progress_from_the_first_second(tmp_path, data):
    config_path = write_config(tmp_path, data)
    text = config_path.read_text().replace("progress: false", "progress: true")
    config_path.write_text(text)
    proc = cli("train", config_path)
    assert proc.returncode == 0, proc.stderr
    assert "neighbour lists" in proc.stderr and "descriptors" in proc.stderr


def test_malformed_yaml_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  cutoff: [1, 2\n")
    proc = cli("train", bad)
    assert proc.returncode == 1 and "not valid YAML at line" in proc.stderr and "Traceback" not in proc.stderr
