"""Training ANI-style models (model.type: ani) on a known analytic potential (Morse)."""

from __future__ import annotations

import math
import warnings

import ase.io
import numpy as np
import pytest
import torch

import nnpkit
from nnpkit.models.ani import AevParameters
from nnpkit.train import config_from_dict, train
from nnpkit.train.data import atoms_to_structure, collate
from nnpkit.train.loss import predict
from nnpkit.train.models import Evaluator, model_type

from morse_data import morse_structures, write_morse_files

CUTOFF = 4.2
#: force error bound promised for this ANI set-up, eV/Angstrom (reference forces have RMS ~0.6;
#: measured 0.077 when written)
FORCE_RMSE_BOUND = 0.09


def ani_config(files, directory, **overrides):
    train_path, test_path = files
    model = {"type": "ani", "cutoff": CUTOFF, "hidden": [16, 16],
             "aev": {"angular_cutoff": 3.5, "n_radial": 8, "radial_eta": 8.0}}
    model.update(overrides)
    return config_from_dict({
        "model": model,
        "data": {"train": str(train_path), "test": str(test_path), "validation_fraction": 0.2},
        "loss": {"sigma_energy": 0.005, "sigma_forces": 0.05},
        "training": {"epochs": 120, "batch_size": 4, "learning_rate": 0.01, "lr_schedule": "cosine", "seed": 3,
                     "progress": False, "early_stopping_patience": 0},
        "output": {"directory": str(directory), "plots": False},
    })


@pytest.fixture(scope="module")
def morse_files(tmp_path_factory):
    return write_morse_files(tmp_path_factory.mktemp("morse"))


@pytest.fixture(scope="module")
def ani_run(morse_files, tmp_path_factory):
    config = ani_config(morse_files, tmp_path_factory.mktemp("ani"))
    return config, train(config, committee=2)


def test_standard_aev_is_ani1x_at_ani1x_cutoffs():
    p = AevParameters.standard(5.2, 3.5)
    assert p.radial_shifts == pytest.approx([0.9 + 0.26875 * k for k in range(16)], abs=1e-12)
    assert p.angular_shifts == pytest.approx([0.9, 1.55, 2.2, 2.85], abs=1e-12)
    assert p.angular_sections == pytest.approx([math.pi / 16 + k * math.pi / 8 for k in range(8)], abs=1e-12)
    assert (p.radial_eta, p.angular_eta, p.angular_zeta) == (16.0, 8.0, 32.0)
    assert p.length(4) == 384  # ANI-1x's AEV length for H, C, N, O


def test_ani_training_reaches_force_bound(ani_run):
    config, result = ani_run
    assert result.evaluation_set == "test"
    assert result.evaluation.forces_rmse < FORCE_RMSE_BOUND
    assert result.evaluation.energy_rmse < 0.01
    for history in result.histories:
        assert history[-1]["val_forces_rmse"] < 0.3 * history[0]["val_forces_rmse"]


def test_exported_ani_committee_reproduces_members(ani_run, tmp_path):
    config, result = ani_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    assert model.metadata["model_type"] == "ani" and model.committee_size == 2
    assert model.metadata["species"] == ["Cu"]
    assert "extrapolation_check" in model.metadata["architecture"]
    for atoms in morse_structures(3, seed=5):
        out = model.compute(atoms, committee_statistics=True)
        batch = collate([atoms_to_structure(atoms, ["Cu"], CUTOFF)])
        for m, member in enumerate(result.members):
            p = predict(Evaluator(member), batch, need_forces=True, need_stress=False, create_graph=False)
            assert out["member_energies"][m] == pytest.approx(float(p.energy[0].detach()), rel=1e-12)
            np.testing.assert_allclose(out["member_forces"][m], p.forces.numpy(), rtol=0, atol=1e-11)


def test_cached_aev_path_equals_module_forward(ani_run):
    config, result = ani_run
    kind = model_type("ani")
    structures = result.data.structures[:4]
    member = result.members[1]
    cache = kind.cache(member, structures)
    batch = collate(structures, list(range(4)))
    fast = predict(kind.evaluator(member, cache), batch, True, True, False)
    slow = predict(Evaluator(member), batch, True, True, False)
    torch.testing.assert_close(fast.energy, slow.energy, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.forces, slow.forces, rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(fast.stress, slow.stress, rtol=1e-10, atol=1e-12)


def test_ani_committee_deviates_away_from_data(ani_run):
    config, result = ani_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    spread = dict(extrapolation=False, committee_statistics=True)
    near = np.mean([model.compute(a, **spread)["forces_std"].mean() for a in morse_structures(6, seed=7)])
    far = np.mean([model.compute(a, **spread)["forces_std"].mean()
                   for a in morse_structures(6, seed=8, strain=0.0, rattle=0.35, a=3.25)])
    assert near > 1e-4
    assert far > 3 * near


@pytest.mark.parametrize(
    "override, message",
    [
        ({"activation": "tanh"}, "ANI networks use CELU"),
        ({"aev": {"n_radials": 8}}, "model.aev"),
        ({"aev": {"n_radial": 0}}, "n_radial must be a positive integer"),
        ({"aev": {"angular_cutoff": 0.5}}, "r_min"),
        ({"aev": 8}, "must be a mapping"),
        ({"hidden": []}, "at least one hidden layer"),
    ],
)
def test_bad_ani_config_fails_at_start(morse_files, tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        train(ani_config(morse_files, tmp_path, **override))


def test_trained_ani_model_flags_extrapolation(ani_run):
    config, result = ani_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nnpkit.ExtrapolationWarning)
        inside = model.compute(ase.io.read(config.data.train[0], index="3"))
    assert not inside["extrapolation_counts"].any()
    compressed = morse_structures(1, seed=9, strain=0.0, rattle=0.02, a=3.0)[0]
    with pytest.warns(nnpkit.ExtrapolationWarning):
        flagged = model.compute(compressed)
    assert (flagged["extrapolation_counts"] > 0).all()
    # energies are the same with the check on or off (one AEV pass either way)
    quiet = model.compute(compressed, extrapolation=False)
    assert "extrapolation_counts" not in quiet
    assert quiet["energy"] == pytest.approx(flagged["energy"], rel=1e-13)


def test_trained_ani_committee_in_lammps_equals_python(ani_run, tmp_path):
    """Training to deployment: the trained file runs in LAMMPS on 2 ranks with the
    Python API's energy, forces and virial, and the same extrapolation counts."""
    from lammps_support import evaluation_commands, plugin_path, read_evaluation, run_lmp, wrapped, write_data

    plugin_path()
    config, result = ani_run
    model = nnpkit.load(result.model_path, min_distance=0.0)
    atoms = wrapped(morse_structures(1, seed=12, rattle=0.12)[0] * (1, 2, 2))
    atoms.positions[0] += [0.5, 0.5, 0.0]  # one atom pushed: partly outside the training range
    atoms = wrapped(atoms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
        expected = model.compute(atoms)
    assert 0 < np.count_nonzero(expected["extrapolation_counts"]) < len(atoms)
    write_data(atoms, tmp_path / "s.data", ["Cu"])
    run_lmp(f"""
units metal
atom_style atomic
read_data s.data
pair_style nnp {result.model_path} showewsum 1 min_distance 0
pair_coeff * * Cu
dump ew all custom 1 ew.dump id i_nnp_extrapolation
dump_modify ew sort id
{evaluation_commands("ani")}
""", tmp_path, ranks=2)
    got = read_evaluation(tmp_path, "ani")
    assert got["energy"] == pytest.approx(expected["energy"], rel=1e-10)
    np.testing.assert_allclose(got["forces"], expected["forces"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["virial"], expected["virial"], rtol=0, atol=1e-9)
    counts = np.loadtxt(tmp_path / "ew.dump", skiprows=9, dtype=np.int64, ndmin=2)[:, 1]
    np.testing.assert_array_equal(counts, expected["extrapolation_counts"])
