"""n2p2-format fixtures written here (every SF type, scaling mode and activation),
converted and checked against a NumPy evaluation of n2p2's formulas; malformed
inputs give clear errors; input.data reading and writing."""

from __future__ import annotations

import numpy as np
import pytest

import nnpkit
from nnpkit.convert.n2p2 import N2p2FormatError, convert
from nnpkit.io import read_n2p2_data, write_n2p2_data
from n2p2_reference import ELEMENTS, cluster, ref_energy, ref_value, write_potential


def structure(seed=0):
    from ase import Atoms

    pos, symbols = cluster(seed, n=7)
    return Atoms(symbols=symbols, positions=pos)


@pytest.mark.parametrize("options", [
    dict(scaling="scale", activations="t s", cutoff_type=1),
    dict(scaling="center", activations="p r", cutoff_type=6, alpha=0.3, normalize_nodes=True),
    dict(scaling="scale_center", activations="g c", cutoff_type=3, normalization=None),
    dict(scaling="scale_sigma", activations="S e", cutoff_type=4, alpha=0.1),
    dict(scaling="none", activations="h l", cutoff_type=8, nodes=(3,), normalize_nodes=True),
])
def test_converted_fixture_matches_reference(tmp_path, options):
    spec = write_potential(tmp_path, **options)
    model = nnpkit.load(convert(str(tmp_path), str(tmp_path / "model.pt"), progress=lambda m: None, min_distance=0.0))
    atoms = structure()
    result = model.compute(atoms, extrapolation=False)
    expected = ref_energy(spec, atoms.positions, atoms.get_chemical_symbols())
    assert result["energy"] == pytest.approx(expected, rel=1e-10, abs=1e-10)
    h = 1e-5
    numeric = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for c in range(3):
            e = []
            for sign in (1, -1):
                p = atoms.positions.copy()
                p[a, c] += sign * h
                e.append(ref_energy(spec, p, atoms.get_chemical_symbols()))
            numeric[a, c] = -(e[0] - e[1]) / (2 * h)
    assert np.abs(result["forces"]).max() > 1e-3
    assert np.abs(result["forces"] - numeric).max() < 1e-6


def test_sorted_order_and_units(tmp_path, capsys):
    spec = write_potential(tmp_path)
    path = convert(str(tmp_path), str(tmp_path / "bohr.pt"), length_unit="Bohr", energy_unit="Hartree")
    err = capsys.readouterr()
    assert "length Bohr, energy Hartree" in err.out + err.err
    model = nnpkit.load(path, min_distance=0.0)  # random test structures, closer than the synthetic training data
    assert "from scaling.data" in model.metadata["min_distance_source"] and model.metadata["min_distance"] > 0
    assert model.species == ELEMENTS
    assert model.metadata["length_unit"] == "Bohr" and model.metadata["energy_unit"] == "Hartree"
    types = [f.n2p2_type for f in spec["functions"]["H"]]
    assert model.metadata["architecture"]["symmetry_function_types"]["H"] == sorted(set(types))
    # A model in Bohr/Hartree evaluated on Angstrom positions: energies come back in eV.
    atoms = structure()
    bohr = 0.529177210544
    hartree = 27.211386245981
    scaled = atoms.copy()
    scaled.positions *= bohr
    result = model.compute(scaled, extrapolation=False)
    expected = ref_energy(spec, atoms.positions, atoms.get_chemical_symbols()) * hartree
    assert result["energy"] == pytest.approx(expected, rel=1e-6)


def test_extrapolation_counts_follow_training_ranges(tmp_path):
    spec = write_potential(tmp_path)
    model = nnpkit.load(convert(str(tmp_path), str(tmp_path / "m.pt"), progress=lambda m: None, min_distance=0.0))
    atoms = structure()
    with pytest.warns(nnpkit.ExtrapolationWarning):
        counts = model.compute(atoms)["extrapolation_counts"]
    expected = []
    for i, s in enumerate(atoms.get_chemical_symbols()):
        g = np.array([ref_value(f, i, atoms.positions, atoms.get_chemical_symbols()) for f in spec["functions"][s]])
        g_min, g_max = spec["stats"][s][:2]
        expected.append(int(((g < g_min) | (g > g_max)).sum()))
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "weights.008.data").unlink(), "weights file of element O not found"),
    (lambda d: (d / "weights.001.data").write_text("0.1\n0.2\n"), "2 weights, but the network of H"),
    (lambda d: (d / "scaling.data").unlink(), "scaling file not found"),
    (lambda d: _append(d / "scaling.data", "1 99 0 1 0.5 0.1\n"), "data lines, but input.nn defines"),
    (lambda d: _append(d / "input.nn", "nnp_type 4G-HDNNP\n"), "charges, electrostatics"),
    (lambda d: _append(d / "input.nn", "symfunction_electrostatic H 2 H 0.1 0 4\n"), "electrostatics"),
    (lambda d: _append(d / "input.nn", "symfunction_short H 7 H 0.1 0 4\n"), "type 7 is not supported"),
    (lambda d: _append(d / "input.nn", "symfunction_short C 2 H 0.1 0 4\n"), "element 'C' is not listed"),
    (lambda d: _append(d / "input.nn", "symfunction_short H 2 H 0.1 0\n"), "needs: <ec> 2"),
    (lambda d: _append(d / "input.nn", "symfunction_short H 20 H 0 4 p7\n"), "subtype 'p7'"),
    (lambda d: _replace(d / "input.nn", "conv_length 1.7\n", ""), "all or none"),
    (lambda d: _replace(d / "input.nn", "global_activation_short t s", "global_activation_short t x"),
     "unknown activation 'x'"),
    (lambda d: _replace(d / "input.nn", "cutoff_type 1", "cutoff_type 11"), "unknown cutoff_type 11"),
    (lambda d: (d / "input.nn").unlink(), "settings file not found"),
])
def test_malformed_inputs_give_clear_errors(tmp_path, damage, message):
    write_potential(tmp_path)
    damage(tmp_path)
    with pytest.raises(N2p2FormatError, match=message):
        convert(str(tmp_path), str(tmp_path / "m.pt"), progress=lambda m: None, min_distance=0.0)


def test_cli_convert_and_inspect(tmp_path, capsys):
    from nnpkit.cli import main

    write_potential(tmp_path)
    assert main(["convert", "n2p2", str(tmp_path), "-o", str(tmp_path / "m.pt")]) == 0
    assert "units (not stored by n2p2, as given): length Ang, energy eV" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "origin:            n2p2" in out and "descriptors_per_element" in out and "network_shapes" in out
    (tmp_path / "weights.001.data").unlink()
    assert main(["convert", "n2p2", str(tmp_path), "-o", str(tmp_path / "m2.pt")]) == 1
    assert "weights file of element H not found" in capsys.readouterr().err


def test_input_data_round_trip(tmp_path):
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = structure(3)
    atoms.set_cell(np.diag([6.0, 7.0, 8.0]))
    atoms.pbc = True
    atoms.info["comment"] = "a test structure"
    forces = np.random.default_rng(0).normal(size=(len(atoms), 3))
    atoms.calc = SinglePointCalculator(atoms, energy=-12.5, forces=forces)
    write_n2p2_data(tmp_path / "input.data", [atoms, atoms], length_unit="Bohr", energy_unit="Hartree")
    text = (tmp_path / "input.data").read_text()
    assert text.count("begin") == 2 and "comment a test structure" in text
    back = read_n2p2_data(tmp_path / "input.data", length_unit="Bohr", energy_unit="Hartree")
    assert len(back) == 2
    np.testing.assert_allclose(back[0].positions, atoms.positions, atol=1e-9)
    np.testing.assert_allclose(back[0].cell.array, atoms.cell.array, atol=1e-9)
    assert back[0].get_potential_energy() == pytest.approx(-12.5, rel=1e-10)
    np.testing.assert_allclose(back[0].get_forces(), forces, rtol=1e-9, atol=1e-12)
    assert back[0].get_chemical_symbols() == atoms.get_chemical_symbols()
    bohr_positions = float(text.split("atom")[1].split()[0])
    assert bohr_positions == pytest.approx(atoms.positions[0, 0] / 0.529177210544, rel=1e-6)


def test_malformed_input_data(tmp_path):
    from nnpkit.io.n2p2_data import N2p2DataError

    (tmp_path / "bad.data").write_text("begin\natom 0 0 0 H 0 0 0 0\nend\n")
    with pytest.raises(N2p2DataError, match="bad.data:2"):
        read_n2p2_data(tmp_path / "bad.data")
    (tmp_path / "open.data").write_text("begin\natom 0 0 0 H 0 0 0 0 0\n")
    with pytest.raises(N2p2DataError, match="no 'end'"):
        read_n2p2_data(tmp_path / "open.data")


def _append(path, text):
    with open(path, "a") as out:
        out.write(text)


def _replace(path, old, new):
    content = path.read_text()
    assert old in content
    path.write_text(content.replace(old, new))


def test_n2p2_conversion_factors_define_the_units_exactly(tmp_path):
    """--cflength/--cfenergy as in n2p2's LAMMPS input: one model length unit is
    exactly 1/cflength Angstrom, one energy unit 1/cfenergy eV (here n2p2's H2O
    example's factors, which differ from CODATA 2014 by about 1e-8)."""
    spec = write_potential(tmp_path)
    cflength, cfenergy = 1.8897261328, 0.0367493254
    path = convert(str(tmp_path), str(tmp_path / "cf.pt"), length_unit="Bohr", energy_unit="Hartree",
                   cflength=cflength, cfenergy=cfenergy, min_distance=0.0, progress=lambda m: None)
    model = nnpkit.load(path)
    assert model.metadata["length_unit_in_angstrom"] == 1.0 / cflength
    atoms = structure()
    scaled = atoms.copy()
    scaled.positions /= cflength
    result = model.compute(scaled, extrapolation=False)
    expected = ref_energy(spec, atoms.positions, atoms.get_chemical_symbols()) / cfenergy
    assert result["energy"] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # ASE's constants give a different number at the 1e-8 level: the factors are used.
    named = nnpkit.load(convert(str(tmp_path), str(tmp_path / "named.pt"), length_unit="Bohr", energy_unit="Hartree",
                                min_distance=0.0, progress=lambda m: None)).compute(scaled, extrapolation=False)["energy"]
    assert abs(named - expected) > 1e-9 * abs(expected)
    with pytest.raises(N2p2FormatError, match="--length-unit"):
        convert(str(tmp_path), str(tmp_path / "bad.pt"), cflength=cflength, progress=lambda m: None)
    with pytest.raises(N2p2FormatError, match="positive"):
        convert(str(tmp_path), str(tmp_path / "bad.pt"), length_unit="Bohr", cflength=-1.0, progress=lambda m: None)
