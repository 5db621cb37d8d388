"""Training on a known analytic potential (Morse through ASE): accuracy, exact export,
committee behaviour, checkpoint resume, and the message-passing model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import nnpkit
from nnpkit.train import config_from_dict, train
from nnpkit.train.data import atoms_to_structure, collate
from nnpkit.train.loss import predict
from nnpkit.train.models import Evaluator

from morse_data import morse_structures, write_morse_files

CUTOFF = 4.2
#: the force error bound this test promises, eV/Angstrom (reference forces have RMS ~0.6)
FORCE_RMSE_BOUND = 0.08


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_morse_files(tmp_path_factory.mktemp("morse"))


def make_config(data_file, directory, **training):
    train_path, test_path = data_file
    settings = {"epochs": 60, "batch_size": 4, "learning_rate": 0.01, "lr_schedule": "cosine", "seed": 3,
                "progress": False, "early_stopping_patience": 0}
    settings.update(training)
    return config_from_dict({
        "model": {"cutoff": CUTOFF, "hidden": [12, 12], "symmetry_functions": {"n_radial": 6, "r_min": 1.8}},
        "data": {"train": str(train_path), "test": str(test_path), "validation_fraction": 0.2},
        "loss": {"sigma_energy": 0.005, "sigma_forces": 0.05},
        "training": settings,
        "output": {"directory": str(directory), "plots": True},
    })


@pytest.fixture(scope="module")
def committee_run(data_file, tmp_path_factory):
    config = make_config(data_file, tmp_path_factory.mktemp("committee"))
    return config, train(config, committee=2)


def test_training_reaches_force_bound(committee_run):
    config, result = committee_run
    reference_rms = np.sqrt(np.mean(result.evaluation.predictions["forces_ref"] ** 2))
    assert reference_rms > 0.3  # the forces are not trivial
    assert result.evaluation.forces_rmse < FORCE_RMSE_BOUND
    assert result.evaluation.energy_rmse < 0.01
    for member_validation in result.member_validation:
        assert member_validation.forces_rmse < FORCE_RMSE_BOUND
    # the learning curve went down
    history = result.histories[0]
    assert history[-1]["val_forces_rmse"] < 0.5 * history[0]["val_forces_rmse"]


def test_report_files(committee_run):
    config, result = committee_run
    out = config.output_directory
    text = open(f"{out}/report.txt").read()
    assert "force RMSE" in text and "test set" in text
    for name in ("learning_curves.png", "parity.png", "history.json"):
        assert os.path.getsize(f"{out}/{name}") > 1000


def test_exported_committee_reproduces_modules(committee_run, data_file):
    import ase.io

    config, result = committee_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    assert model.committee_size == 2
    ranges = model.metadata["descriptor_ranges"]["Cu"]
    assert len(ranges) == result.module.n_per_element[0] and all(lo <= hi for lo, hi in ranges)
    for atoms in ase.io.read(data_file[1], index=":3"):
        out = model.compute(atoms, extrapolation=False, committee_statistics=True)  # test structures may lie just outside
        s = atoms_to_structure(atoms, ["Cu"], CUTOFF)
        batch = collate([s])
        for m, member in enumerate(result.members):
            p = predict(Evaluator(member), batch, need_forces=True, need_stress=False, create_graph=False)
            assert out["member_energies"][m] == pytest.approx(float(p.energy[0].detach()), rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(out["member_forces"][m], p.forces.numpy(), rtol=0, atol=1e-11)
        # the committee module in memory gives the same mean energy
        p = predict(Evaluator(result.module), batch, True, False, False)
        assert out["energy"] == pytest.approx(float(p.energy[0].detach()), rel=1e-12)


@pytest.mark.parametrize("dense_fraction", [0.0, 2.0], ids=["dense", "sparse"])
def test_cached_descriptor_path_equals_module_forward(committee_run, dense_fraction, monkeypatch):
    """The BP fast path (cached symmetry functions and derivative matrices, dense or
    sparse) computes what the module computes."""
    from nnpkit.train import models

    monkeypatch.setattr(models, "DENSE_FRACTION", dense_fraction)
    config, result = committee_run
    kind = models.model_type("behler_parrinello")
    structures = result.data.structures[:5]
    cache = kind.cache(result.members[0], structures)
    assert len(cache.position_matrices[0]) == (1 if dense_fraction == 0.0 else 2)
    batch = collate(structures, list(range(5)))
    for stress in (False, True):
        fast = predict(kind.evaluator(result.members[0], cache), batch, True, stress, False)
        slow = predict(Evaluator(result.members[0]), batch, True, stress, False)
        torch.testing.assert_close(fast.energy, slow.energy, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fast.forces, slow.forces, rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(fast.stress, slow.stress, rtol=1e-10, atol=1e-12)
    # and the stress matches ASE's Morse stress roughly (model is trained on energies and forces only)
    reference = torch.stack([s.stress for s in structures])
    assert float((fast.stress - reference).abs().max()) < 0.02


def test_committee_members_differ_and_deviate_away_from_data(committee_run):
    config, result = committee_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    near = morse_structures(6, seed=7)
    far = morse_structures(6, seed=8, strain=0.0, rattle=0.35, a=3.25)  # compressed and hot
    spread = dict(extrapolation=False, committee_statistics=True)
    near_dev = np.mean([model.compute(a, **spread)["forces_std"].mean() for a in near])
    far_dev = np.mean([model.compute(a, **spread)["forces_std"].mean() for a in far])
    assert near_dev > 1e-4  # members are different models
    assert far_dev > 3 * near_dev
    w0 = result.members[0].networks[0].members[0][0].weight
    w1 = result.members[1].networks[0].members[0][0].weight
    assert not torch.equal(w0, w1)
    meta = model.metadata["training"]
    assert meta["committee_size"] == 2 and len(meta["member_validation"]) == 2


def test_resume_gives_identical_losses(data_file, tmp_path):
    small = dict(epochs=6, learning_rate=0.005, lr_schedule="plateau", lr_patience=1)
    uninterrupted = train(make_config(data_file, tmp_path / "a", **small))
    config = make_config(data_file, tmp_path / "b", **small)
    assert train(config, stop_after_epochs=3) is None
    with open(tmp_path / "b" / "member-0" / "checkpoint.pt", "rb"):
        pass
    resumed = train(make_config(data_file, tmp_path / "b", **small), resume=True)
    keys = ("train_loss", "val_loss", "lr")
    assert [[h[k] for k in keys] for h in resumed.histories[0]] == [
        [h[k] for k in keys] for h in uninterrupted.histories[0]
    ]
    assert len(resumed.histories[0]) == 6


def test_resume_refuses_changed_config(data_file, tmp_path):
    train(make_config(data_file, tmp_path, epochs=2), stop_after_epochs=1)
    with pytest.raises(ValueError, match="different config"):
        train(make_config(data_file, tmp_path, epochs=2, learning_rate=0.1), resume=True)


def test_float32_message_passing_committee(data_file, tmp_path):
    config = make_config(data_file, tmp_path, epochs=6, dtype="float32", learning_rate=0.005, batch_size=1)
    config.model.type = "message_passing"
    config.model.features = 8
    config.model.n_basis = 8
    config.data.index = ":24"
    result = train(config, committee=2)
    for history in result.histories:  # this small SchNet-like model learns slowly: ask only for progress
        assert history[-1]["train_loss"] < 0.97 * history[0]["train_loss"]
    model = nnpkit.load(result.model_path, min_distance=0.0)
    assert model.metadata["dtype"] == "float32" and model.interaction_range == pytest.approx(2 * CUTOFF)
    assert model.committee_size == 2
    atoms = morse_structures(1, seed=11)[0]
    batch = collate([atoms_to_structure(atoms, ["Cu"], CUTOFF, torch.float32)])
    out = model.compute(atoms, committee_statistics=True)
    for m, member in enumerate(result.members):
        p = predict(Evaluator(member), batch, True, False, False)
        assert out["member_energies"][m] == pytest.approx(float(p.energy[0].detach()), rel=1e-6)
        np.testing.assert_allclose(out["member_forces"][m], p.forces.detach().numpy(), atol=1e-5)
    assert json.loads(json.dumps(model.metadata))["origin"]["kind"] == "nnpkit-train"


def test_stress_training(data_file, tmp_path):
    config = make_config(data_file, tmp_path, epochs=15, learning_rate=0.01)
    config.loss.stress_weight = 1.0
    config.loss.sigma_stress = 0.002
    result = train(config)
    history = result.histories[0]
    assert history[-1]["val_stress_rmse"] < 0.75 * history[0]["val_stress_rmse"]
    assert result.evaluation.stress_rmse < history[0]["val_stress_rmse"]  # reported on the test set too


def test_early_stopping_restores_best_state(data_file, tmp_path):
    # a learning rate far too large: validation gets worse, training stops after `patience` epochs
    config = make_config(data_file, tmp_path, epochs=40, learning_rate=0.5, lr_schedule="none",
                         early_stopping_patience=3)
    result = train(config)
    history = result.histories[0]
    assert len(history) < 40
    best = min(h["val_loss"] for h in history)
    assert [h["val_loss"] for h in history[-3:]] > [best] * 3
    assert result.member_validation[0].loss == pytest.approx(best, rel=1e-10)
