"""Extrapolation flags: one descriptor computation (forward_with_extrapolation) gives
the same counts as the separate extrapolation_counts method, leaves energies and
forces untouched, and trained Behler-Parrinello models know their training range."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnpkit
from conftest import REPO, TEST_DATA, make_bp, shared_data
from extrapolation_support import compressed, copper_structures, export_separate, fit_range
from nnpkit import _core
from nnpkit.train import config_from_dict, train


def edges(model: nnpkit.Model, atoms):
    edge_index, _, vectors = _core.neighbor_list(atoms.positions, atoms.cell.array, [bool(p) for p in atoms.pbc],
                                                 model.cutoff)
    species = torch.tensor([model.species.index(s) for s in atoms.get_chemical_symbols()])
    return species, torch.from_numpy(edge_index), torch.from_numpy(vectors), len(atoms)


def assert_fused_equals_separate(model: nnpkit.Model, atoms) -> torch.Tensor:
    """The fused method's energies equal forward's and its counts the separate method's; returns the counts."""
    module = torch.jit.load(model.path)
    args = edges(model, atoms)
    energies, counts = module.forward_with_extrapolation(*args)
    assert counts.dtype == torch.int64 and counts.shape == (len(atoms),)
    torch.testing.assert_close(energies, module(*args), rtol=0, atol=0)
    torch.testing.assert_close(counts, module.extrapolation_counts(*args), rtol=0, atol=0)
    return counts


def assert_extrapolation_changes_nothing(model: nnpkit.Model, atoms) -> dict:
    """compute() with and without extrapolation: the same numbers to 1e-12; returns the result with it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
        on = model.compute(atoms, extrapolation=True, atom_virials=True, committee_statistics=True)
    off = model.compute(atoms, extrapolation=False, atom_virials=True, committee_statistics=True)
    assert "extrapolation_counts" in on and "extrapolation_counts" not in off
    for key in ("energy", "energies", "forces", "virial", "atom_virials", "member_energies", "member_forces",
                "forces_std"):
        if key in off:
            np.testing.assert_allclose(on[key], off[key], rtol=1e-12, atol=1e-12, err_msg=key)
    return on


# --- the converted n2p2 Cu2S model ---------------------------------------------------------


@pytest.fixture(scope="module")
def cu2s(tmp_path_factory):
    from nnpkit.convert.n2p2 import convert
    from nnpkit.io import read_n2p2_data

    directory = shared_data("n2p2", "Cu2S_PBE")
    path = tmp_path_factory.mktemp("cu2s") / "cu2s.pt"
    convert(str(directory), str(path), progress=lambda message: None)
    (atoms,) = read_n2p2_data(directory / "input.data")
    return nnpkit.load(path), atoms


def test_cu2s_fused_counts_equal_separate_method(cu2s, tmp_path):
    model, atoms = cu2s
    assert not assert_fused_equals_separate(model, atoms).any()
    squeezed = compressed(atoms, 0.8)
    counts = assert_fused_equals_separate(model, squeezed)
    assert (counts > 0).sum() > 0.5 * len(atoms)
    # through the model runner: the fused path and the separate one (older files) agree
    fused = assert_extrapolation_changes_nothing(model, squeezed)
    np.testing.assert_array_equal(fused["extrapolation_counts"], counts.numpy())
    separate = export_separate(model, tmp_path / "separate.pt")
    assert separate.provides_extrapolation
    with pytest.warns(nnpkit.ExtrapolationWarning):
        old = separate.compute(squeezed)
    np.testing.assert_array_equal(old["extrapolation_counts"], counts.numpy())
    np.testing.assert_allclose(old["forces"], fused["forces"], rtol=0, atol=1e-12)


# --- Behler-Parrinello models with a fitted training range ---------------------------------


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Copper BP committee (2 members) whose scaling and training range come from `data`."""
    data = copper_structures(8, seed=0)
    module = make_bp(species=("Cu",), committee_size=2, seed=4)
    assert not module.has_training_range()
    fit_range(module, data)
    assert module.has_training_range()
    path = tmp_path_factory.mktemp("bp") / "fitted.pt"
    return nnpkit.load(nnpkit.export(module, path)), data


def test_bp_fitted_range_flags_compressed_structure_only(fitted):
    model, data = fitted
    assert model.provides_extrapolation
    assert "extrapolation_check" in model.metadata["architecture"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", nnpkit.ExtrapolationWarning)
        for atoms in data:  # the structures the range was fitted on
            assert not model.compute(atoms)["extrapolation_counts"].any()
    squeezed = compressed(data[0], 0.85)
    with pytest.warns(nnpkit.ExtrapolationWarning, match="outside the training range"):
        counts = model.compute(squeezed)["extrapolation_counts"]
    assert (counts > 0).all()


def test_bp_fused_counts_equal_separate_and_change_no_numbers(fitted, tmp_path):
    model, data = fitted
    separate = export_separate(model, tmp_path / "separate.pt")
    for atoms in (data[1], compressed(data[1], 0.9), compressed(data[1], 1.2)):
        counts = assert_fused_equals_separate(model, atoms)
        on = assert_extrapolation_changes_nothing(model, atoms)  # committee: member forces too
        np.testing.assert_array_equal(on["extrapolation_counts"], counts.numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
            old = separate.compute(atoms, committee_statistics=True)
        np.testing.assert_array_equal(old["extrapolation_counts"], counts.numpy())
        np.testing.assert_allclose(old["member_forces"], on["member_forces"], rtol=0, atol=1e-12)
    assert counts.any()


def test_bp_without_range_never_flags(bp_model):
    """Models built by hand (and exported) without a training range: counts are all zero."""
    from conftest import random_triclinic

    assert bp_model.provides_extrapolation
    atoms = random_triclinic(seed=3)
    for factor in (0.7, 1.0, 1.5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", nnpkit.ExtrapolationWarning)
            result = assert_extrapolation_changes_nothing(bp_model, compressed(atoms, factor))
        assert not result["extrapolation_counts"].any()


def test_bp_state_dict_without_range_loads_with_range_unknown():
    """Training checkpoints written before the range buffers existed still load."""
    old_state = {k: v for k, v in make_bp(species=("Cu",), seed=1).state_dict().items()
                 if k not in ("descriptor_min", "descriptor_max")}
    module = make_bp(species=("Cu",), seed=2)
    module.load_state_dict(old_state)
    assert not module.has_training_range()
    torch.testing.assert_close(module.networks[0].members[0][0].weight, old_state["networks.0.members.0.0.weight"])


def test_bp_model_files_without_range_buffers_still_work():
    """Files exported before the range buffers existed load, evaluate, and simply cannot
    flag extrapolation. The fixture is the bundled copper committee as first released."""
    path = TEST_DATA / "copper-bp-without-ranges.pt"
    assert "g_min" not in dict(torch.jit.load(path).named_buffers())
    model = nnpkit.load(path)
    assert not model.provides_extrapolation
    atoms = compressed(copper_structures(1, seed=2)[0], 0.85)
    on, off = model.compute(atoms, extrapolation=True), model.compute(atoms, extrapolation=False)
    assert "extrapolation_counts" not in on
    np.testing.assert_allclose(on["forces"], off["forces"], rtol=0, atol=1e-12)


# --- nnpkit.train: the trained model file flags extrapolation --------------------------------


def test_trained_committee_flags_compressed_structure(tmp_path):
    import ase.io
    from ase.calculators.emt import EMT

    structures = copper_structures(10, seed=5)
    for atoms in structures:
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_forces()
    ase.io.write(tmp_path / "train.extxyz", structures)
    config = config_from_dict({
        "model": {"cutoff": 4.2, "hidden": [6], "symmetry_functions": {"n_radial": 4, "r_min": 1.8}},
        "data": {"train": str(tmp_path / "train.extxyz"), "validation_fraction": 0.2},
        "training": {"epochs": 2, "batch_size": 4, "seed": 1, "progress": False, "early_stopping_patience": 0},
        "output": {"directory": str(tmp_path / "out"), "plots": False},
    })
    result = train(config, committee=2)
    model = nnpkit.load(result.model_path, min_distance=0.0)  # compressed on purpose
    assert model.committee_size == 2 and model.provides_extrapolation
    # the module's range and the metadata's descriptor_ranges are the same numbers
    ranges = np.array(model.metadata["descriptor_ranges"]["Cu"])
    n = result.module.n_per_element[0]
    np.testing.assert_array_equal(ranges[:, 0], result.module.descriptor_min[0, :n].numpy())
    np.testing.assert_array_equal(ranges[:, 1], result.module.descriptor_max[0, :n].numpy())
    for member in result.members:
        torch.testing.assert_close(member.descriptor_min, result.module.descriptor_min, rtol=0, atol=0)
    # a training structure as the trainer read it (the file holds 8 decimals), and compressed
    training_structure = ase.io.read(tmp_path / "train.extxyz", index=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nnpkit.ExtrapolationWarning)
        assert not model.compute(training_structure)["extrapolation_counts"].any()
    squeezed = compressed(training_structure, 0.8)
    with pytest.warns(nnpkit.ExtrapolationWarning):
        counts = model.compute(squeezed)["extrapolation_counts"]
    assert (counts > 0).all()
    assert_fused_equals_separate(model, squeezed)


def test_bundled_copper_model_flags_compressed_copper():
    """The bundled demo model carries its training range: a near-equilibrium crystal is
    inside it, a compressed one is flagged."""
    bundled = nnpkit.load(REPO / "examples" / "models" / "copper-bp.pt")
    assert bundled.provides_extrapolation
    atoms = copper_structures(1, seed=3)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", nnpkit.ExtrapolationWarning)
        assert not bundled.compute(atoms)["extrapolation_counts"].any()
    with pytest.warns(nnpkit.ExtrapolationWarning):
        assert bundled.compute(compressed(atoms, 0.85))["extrapolation_counts"].all()
