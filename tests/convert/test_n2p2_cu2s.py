"""The Cu2S potential from n2p2's examples, converted, against n2p2's own predictions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnpkit
from conftest import shared_data
from nnpkit import _core
from nnpkit.cli import main
from nnpkit.convert.n2p2 import convert
from nnpkit.io import read_n2p2_data


def _data_rows(path):
    return np.array([[float(t) for t in line.split()] for line in open(path)
                     if line.strip() and not line.startswith("#")])


@pytest.fixture(scope="module")
def cu2s(tmp_path_factory):
    directory = shared_data("n2p2", "Cu2S_PBE")
    path = tmp_path_factory.mktemp("n2p2") / "cu2s.pt"
    messages: list[str] = []
    convert(str(directory), str(path), progress=messages.append)
    return directory, nnpkit.load(path), messages


@pytest.fixture(scope="module")
def structure(cu2s):
    directory, _, _ = cu2s
    (atoms,) = read_n2p2_data(directory / "input.data")
    return atoms


def test_converter_reports_units_and_shapes(cu2s):
    _, model, messages = cu2s
    text = "\n".join(messages)
    assert "length Ang, energy eV" in text
    assert "S 72, Cu 66" in text
    assert model.species == ["S", "Cu"]  # n2p2's order: by atomic number
    assert model.cutoff == pytest.approx(6.0)
    arch = model.metadata["architecture"]
    assert arch["network_shapes"] == {"S": "72-25-25-1 (p p l)", "Cu": "66-25-25-1 (p p l)"}
    assert model.metadata["origin"]["kind"] == "n2p2"


def test_energy_and_forces_match_n2p2(cu2s, structure):
    directory, model, _ = cu2s
    result = model.compute(structure)
    reference_energy = _data_rows(directory / "reference" / "energy.out")[0, 3]
    assert result["energy"] == pytest.approx(reference_energy, rel=1e-8)
    forces = _data_rows(directory / "reference" / "nnforces.out")
    order = forces[:, 1].astype(int) - 1
    np.testing.assert_array_equal(order, np.arange(len(structure)))
    assert np.abs(result["forces"] - forces[:, 5:8]).max() < 1e-7
    # no extrapolation for the structure the potential was trained around
    assert not result["extrapolation_counts"].any()


def test_scaled_symmetry_functions_match_n2p2(cu2s, structure):
    directory, model, _ = cu2s
    module = torch.jit.load(model.path)
    edge_index, _, vectors = _core.neighbor_list(structure.positions, structure.cell.array, [True] * 3,
                                                 model.cutoff)
    species = torch.tensor([model.species.index(s) for s in structure.get_chemical_symbols()])
    scaled = module.scaled_descriptors(species, torch.from_numpy(edge_index), torch.from_numpy(vectors),
                                       len(structure)).numpy()
    rows = [line.split() for line in open(directory / "reference" / "sf_scaled.txt") if not line.startswith("#")]
    assert len(rows) == len(structure)
    for row in rows:
        atom, element, count = int(row[0]) - 1, int(row[1]), int(row[2])
        reference = np.array(row[3:], dtype=float)
        assert species[atom] == element and count == reference.size
        # the reference has 9 significant digits
        np.testing.assert_allclose(scaled[atom, :count], reference, rtol=2e-8, atol=1e-8)


def test_extrapolation_flagged_outside_training_range(cu2s, structure):
    _, model, _ = cu2s
    squeezed = structure.copy()
    squeezed.set_cell(structure.cell.array * 0.8, scale_atoms=True)
    with pytest.warns(nnpkit.ExtrapolationWarning, match="outside the training range"):
        result = model.compute(squeezed)
    assert (result["extrapolation_counts"] > 0).sum() > 0.5 * len(squeezed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = model.compute(squeezed, extrapolation=False)
    assert "extrapolation_counts" not in quiet
    assert quiet["energy"] == pytest.approx(result["energy"], rel=1e-14)


def test_eval_cli_reads_n2p2_input_data(cu2s, capsys):
    directory, model, _ = cu2s
    assert main(["eval", model.path, str(directory / "input.data")]) == 0
    out = capsys.readouterr().out
    assert "as n2p2 structure data in Ang and eV" in out
    energy = float(out.split("energy:")[1].split()[0])
    assert energy == pytest.approx(-573.65603183874589, rel=1e-8)
    assert "extrapolation" not in out.split("energy:")[1]
