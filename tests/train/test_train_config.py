"""Bad configs and bad data fail at the start with a message naming the problem;
config files (YAML, TOML), n2p2 input.data and the command line work."""

from __future__ import annotations

import numpy as np
import pytest

from nnpkit.train import config_from_dict, load_config, train
from nnpkit.io import read_n2p2_data


def _labelled(n=3, symbols="Cu4", forces=True, energy=True, seed=0):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = Atoms(symbols, positions=rng.random((len(Atoms(symbols)), 3)) * 3.0 + [[0, 0, 0]], cell=[4, 4, 4],
                      pbc=True)
        results = {}
        if energy:
            results["energy"] = float(rng.normal())
        if forces:
            results["forces"] = rng.normal(size=(len(atoms), 3))
        atoms.calc = SinglePointCalculator(atoms, **results)
        out.append(atoms)
    return out


def _write(tmp_path, structures, name="data.extxyz"):
    import ase.io

    path = tmp_path / name
    ase.io.write(path, structures)
    return str(path)


def _config(tmp_path, train_file, **sections):
    values = {"data": {"train": train_file}, "model": {"cutoff": 3.0, "species": ["Cu"]},
              "training": {"epochs": 1, "progress": False}, "output": {"directory": str(tmp_path / "out")}}
    for key, value in sections.items():
        values.setdefault(key, {}).update(value)
    return config_from_dict(values)


def test_missing_forces_fail_at_start(tmp_path):
    path = _write(tmp_path, _labelled(forces=True) + _labelled(n=1, forces=False))
    with pytest.raises(ValueError, match=r"data.extxyz:3: no reference forces.*force_weight"):
        train(_config(tmp_path, path))
    # without forces in the loss the same data are fine
    result = train(_config(tmp_path, path, loss={"force_weight": 0.0}))
    assert result.histories[0]


def test_unknown_element_fails_at_start(tmp_path):
    path = _write(tmp_path, _labelled() + _labelled(n=1, symbols="Cu3Zr"))
    with pytest.raises(ValueError, match=r"data.extxyz:3: element\(s\) \['Zr'\] not among the model's species"):
        train(_config(tmp_path, path))


def test_empty_data_set_fails_at_start(tmp_path):
    path = tmp_path / "empty.extxyz"
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        train(_config(tmp_path, str(path)))
    with pytest.raises(ValueError, match="data.train' is empty"):
        config_from_dict({"data": {"train": []}})


def test_missing_energy_and_missing_file(tmp_path):
    path = _write(tmp_path, _labelled(n=2, energy=False))
    with pytest.raises(ValueError, match="no reference energy"):
        train(_config(tmp_path, path))
    with pytest.raises(FileNotFoundError, match="nothere.extxyz"):
        train(_config(tmp_path, str(tmp_path / "nothere.extxyz")))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"data": {"train": "x"}, "trainng": {}}, r"unknown section\(s\) \['trainng'\]"),
        ({"data": {"train": "x"}, "training": {"epoch": 3}}, r"unknown key\(s\) \['epoch'\]"),
        ({"data": {"train": "x"}, "training": {"epochs": "many"}}, "'training.epochs' must be a number"),
        ({"data": {"train": "x"}, "training": {"epochs": 2.5}}, "'training.epochs' must be an integer"),
        ({"data": {"train": "x"}, "loss": {"sigma_forces": 0}}, "'loss.sigma_forces' must be positive"),
        ({"data": {"train": "x"}, "training": {"dtype": "float16"}}, "float32 or float64"),
        ({"data": {"train": "x"}, "data": {"train": "x", "validation_fraction": 1.5}}, "validation_fraction"),
    ],
)
def test_bad_config_values(values, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(values)


def test_unknown_model_type_and_stress_without_labels(tmp_path):
    path = _write(tmp_path, _labelled())
    with pytest.raises(ValueError, match="unknown model type 'schnet'"):
        train(_config(tmp_path, path, model={"type": "schnet"}))
    with pytest.raises(ValueError, match="no reference stress"):
        train(_config(tmp_path, path, loss={"stress_weight": 1.0}))


def test_yaml_and_toml_give_the_same_config(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "model:\n  cutoff: 4.0\n  hidden: [8, 8]\ndata:\n  train: d.extxyz\ntraining:\n  epochs: 5\n  seed: 2\n"
    )
    (tmp_path / "a.toml").write_text(
        '[model]\ncutoff = 4.0\nhidden = [8, 8]\n[data]\ntrain = "d.extxyz"\n[training]\nepochs = 5\nseed = 2\n'
    )
    a, b = load_config(tmp_path / "a.yaml"), load_config(tmp_path / "a.toml")
    assert a.to_dict() == b.to_dict()
    assert a.resolve(a.data.train[0]) == str(tmp_path / "d.extxyz")  # relative to the config file
    with pytest.raises(ValueError, match="must end in"):
        (tmp_path / "a.json").write_text("{}")
        load_config(tmp_path / "a.json")


def test_n2p2_input_data_reader(tmp_path):
    text = """begin
comment two atoms in a box
lattice 5.0 0.0 0.0
lattice 0.0 5.0 0.0
lattice 0.0 0.0 5.0
atom 0.0 0.0 0.0 Cu 0.0 0.0 0.1 0.2 0.3
atom 1.0 1.5 2.0 Cu 0.0 0.0 -0.1 -0.2 -0.3
energy -7.5
charge 0.0
end
begin
atom 0.0 0.0 0.0 Cu 0.0 0.0 0.0 0.0 1.0
atom 0.0 0.0 2.5 Cu 0.0 0.0 0.0 0.0 -1.0
energy -3.0
charge 0.0
end
"""
    (tmp_path / "input.data").write_text(text)
    structures = read_n2p2_data(tmp_path / "input.data")
    assert len(structures) == 2
    assert structures[0].pbc.all() and not structures[1].pbc.any()
    assert structures[0].get_potential_energy() == -7.5
    np.testing.assert_allclose(structures[1].get_forces()[1], [0, 0, -1.0])
    np.testing.assert_allclose(structures[0].positions[1], [1.0, 1.5, 2.0])
    (tmp_path / "bad.data").write_text("begin\natom 0 0 zero Cu 0 0 0 0 0\nend\n")
    with pytest.raises(ValueError, match=r"bad.data:2: cannot read"):
        read_n2p2_data(tmp_path / "bad.data")


def test_n2p2_units_are_converted(tmp_path):
    from nnpkit.train import load_data

    (tmp_path / "input.data").write_text(
        "begin\natom 0 0 0 Cu 0 0 0 0 0.5\natom 0 0 4 Cu 0 0 0 0 -0.5\nenergy -1.0\nend\n"
        "begin\natom 0 0 0 Cu 0 0 0 0 0.4\natom 0 0 4.2 Cu 0 0 0 0 -0.4\nenergy -1.1\nend\n"
    )
    config = _config(tmp_path, str(tmp_path / "input.data"),
                     data={"length_unit": "Bohr", "energy_unit": "Hartree"}, model={"cutoff": 3.0})
    data = load_data(config, __import__("torch").float64)
    s = data.structures[0]
    assert s.energy == pytest.approx(-27.211386, rel=1e-6)
    assert float(s.forces[0, 2]) == pytest.approx(0.5 * 27.211386 / 0.529177, rel=1e-5)
    assert s.edge_index.shape[1] == 2  # 4 Bohr = 2.12 Angstrom < 3 Angstrom cutoff


def test_command_line(tmp_path, capsys):
    from nnpkit.cli import main

    path = _write(tmp_path, _labelled(n=4))
    (tmp_path / "c.yaml").write_text(
        f"model: {{cutoff: 3.0}}\ndata: {{train: {path}, validation_fraction: 0.25}}\n"
        f"training: {{epochs: 2}}\noutput: {{directory: {tmp_path / 'out'}, plots: false}}\n"
    )
    assert main(["train", str(tmp_path / "c.yaml"), "--committee", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "committee of 2" in out and "model.pt" in out
    assert main(["train", str(tmp_path / "missing.yaml")]) == 1
    assert "training config not found" in capsys.readouterr().err


def test_ase_database_and_extxyz_give_the_same_data(tmp_path):
    import ase.db
    import torch

    from nnpkit.train import load_data

    structures = _labelled(n=4, symbols="Cu3Ni", seed=3)
    with ase.db.connect(tmp_path / "data.db") as db:
        for atoms in structures:
            db.write(atoms)
    model = {"species": ["Cu", "Ni"]}
    from_db = load_data(_config(tmp_path, str(tmp_path / "data.db"), model=model), torch.float64)
    from_xyz = load_data(_config(tmp_path, _write(tmp_path, structures), model=model), torch.float64)
    assert len(from_db.structures) == 4
    for a, b, atoms in zip(from_db.structures, from_xyz.structures, structures):
        assert a.energy == b.energy == atoms.get_potential_energy()
        torch.testing.assert_close(a.forces, torch.from_numpy(atoms.get_forces()), rtol=0, atol=0)
        torch.testing.assert_close(a.edge_vectors, b.edge_vectors, rtol=0, atol=1e-7)  # extxyz: 8 decimals
