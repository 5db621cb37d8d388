"""One structure reader (nnpkit.io.read_structures) for eval and train: ASE's index
syntax (string2index) for every format, n2p2 files included; clear errors."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io.formats import string2index

from nnpkit.io import parse_index, read_structures, write_n2p2_data

INDICES = ["-1", "3", "0", ":", ":2", "1:3", "::2", "-2:", "-3:-1"]


def labelled(n: int = 5) -> list[Atoms]:
    """n structures told apart by their energy (-1, -2, ...)."""
    out = []
    for k in range(n):
        atoms = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.0 + 0.1 * k]], cell=[6, 6, 6], pbc=True)
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0 - k, forces=np.zeros((2, 3)))
        out.append(atoms)
    return out


@pytest.fixture(params=["n2p2", "extxyz"])
def structure_file(request, tmp_path):
    path = tmp_path / ("input.data" if request.param == "n2p2" else "structures.extxyz")
    if request.param == "n2p2":
        write_n2p2_data(path, labelled())
    else:
        ase.io.write(path, labelled())
    return path


@pytest.mark.parametrize("index", INDICES)
def test_index_follows_ase_string2index_for_every_format(structure_file, index):
    selected = read_structures(structure_file, index)
    expected = list(range(5))[string2index(index)]
    expected = [expected] if isinstance(expected, int) else expected
    assert [k for k, _ in selected] == expected
    assert [a.get_potential_energy() for _, a in selected] == [-1.0 - k for k in expected]


def test_minus_one_is_the_last_structure_of_an_n2p2_file(tmp_path):
    """Before, the training reader took "-1" as every structure but the last."""
    write_n2p2_data(tmp_path / "input.data", labelled())
    ((position, atoms),) = read_structures(tmp_path / "input.data", "-1")
    assert position == 4 and atoms.get_potential_energy() == -5.0


def test_n2p2_units_are_converted_other_formats_are_not(tmp_path):
    write_n2p2_data(tmp_path / "input.data", labelled(1))
    ((_, bohr),) = read_structures(tmp_path / "input.data", n2p2_units=("Bohr", "Hartree"))
    from ase.units import Bohr, Hartree

    assert bohr.get_potential_energy() == pytest.approx(-1.0 * Hartree, rel=1e-15)
    np.testing.assert_allclose(bohr.positions[1], [0, 0, 2.0 * Bohr], rtol=1e-12)


@pytest.mark.parametrize("index", ["abc", "1:x", "", "1:2:3:4", "1.5"])
def test_malformed_index_is_named(index):
    with pytest.raises(ValueError, match="data.index must be a structure number"):
        parse_index(index, "data.index")


def test_out_of_range_and_empty_selections_name_the_file(structure_file):
    with pytest.raises(ValueError, match=r"--index 5 is out of range: .* holds 5 structures \(0..4\)"):
        read_structures(structure_file, "5", index_name="--index")
    with pytest.raises(ValueError, match="index 7: selects none of the 5 structures"):
        read_structures(structure_file, "7:")


def test_missing_directory_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="structure file not found"):
        read_structures(tmp_path / "nothing.xyz")
    with pytest.raises(ValueError, match="is a directory"):
        read_structures(tmp_path)
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        read_structures(tmp_path / "empty.xyz")
    with pytest.raises(ValueError, match="unknown data.format 'foo'"):
        read_structures(tmp_path / "empty.xyz", file_format="foo", format_name="data.format")


def test_training_reads_the_same_structures(tmp_path):
    """data.index selects what nnpkit eval's --index selects, n2p2 files included; the
    structures' labels name their position in the file."""
    from nnpkit.train import config_from_dict, load_data

    write_n2p2_data(tmp_path / "input.data", labelled())
    config = config_from_dict({
        "model": {"cutoff": 3.0, "species": ["Cu"]},
        "data": {"train": str(tmp_path / "input.data"), "index": "-3:"},
        "training": {"progress": False},
        "output": {"directory": str(tmp_path / "out"), "plots": False},
    })
    import torch

    data = load_data(config, torch.float64)
    assert [s.source for s in data.structures] == [f"{tmp_path / 'input.data'}:{k}" for k in (2, 3, 4)]
    assert [s.energy for s in data.structures] == [-3.0, -4.0, -5.0]
    config.data.index = "x"
    with pytest.raises(ValueError, match="data.index must be a structure number"):
        load_data(config, torch.float64)
