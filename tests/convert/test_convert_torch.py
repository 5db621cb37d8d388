"""`nnpkit convert torch`: a user's own contract module into a model file, and the
check mode that compares the written file with the live module."""

import textwrap

import ase.io
import numpy as np
import pytest
import torch

import nnpkit
from conftest import make_bp, random_triclinic
from nnpkit.cli import main
from nnpkit.convert.torch import check_model_file, convert_module, evaluate_module, load_module

# A user's file: a smooth pair potential that follows the model contract. With
# respect_cutoff=False it reads every neighbour it is given, beyond its cutoff too.
USER_MODULE = textwrap.dedent(
    """
    import math
    import torch

    class PairPotential(torch.nn.Module):
        def __init__(self, respect_cutoff: bool = True):
            super().__init__()
            self.species = ["Cu", "Ni"]
            self.cutoff = 4.0
            self.respect_cutoff = respect_cutoff
            self.strength = torch.nn.Parameter(torch.tensor([[0.3, 0.5], [0.5, 0.8]], dtype=torch.float64))

        def forward(self, species, edge_index, edge_vectors, n_local: int):
            r = torch.sqrt((edge_vectors * edge_vectors).sum(1))
            pair = self.strength[species[edge_index[0]], species[edge_index[1]]]
            e = pair * torch.exp(-r)
            if self.respect_cutoff:
                e = e * 0.5 * (torch.cos(math.pi * torch.clamp(r / self.cutoff, max=1.0)) + 1.0)
            return torch.zeros(species.shape[0], dtype=e.dtype).index_add(0, edge_index[0], 0.5 * e)

    def build():
        return PairPotential()

    def build_leaky():
        return PairPotential(respect_cutoff=False)
    """
)


@pytest.fixture()
def user_file(tmp_path):
    path = tmp_path / "user_model.py"
    path.write_text(USER_MODULE)
    return path


@pytest.fixture()
def structure_file(tmp_path):
    path = tmp_path / "structure.xyz"
    ase.io.write(path, random_triclinic(n_atoms=10, seed=7))
    return path


def test_python_api_with_check_agrees_to_rounding(tmp_path):
    module = make_bp(committee_size=2)
    atoms = random_triclinic(n_atoms=10, seed=2)
    path = convert_module(module, tmp_path / "bp.pt", check_structure=atoms)
    result = check_model_file(module, path, atoms)
    assert result["ok"] and result["energy_error"] < 1e-12 and result["force_error"] < 1e-11
    # the live evaluation itself is right: forces are minus the energy gradient
    live = evaluate_module(module, atoms, module.species, module.cutoff)
    h = 1e-5
    shifted = atoms.copy()
    shifted.positions[3, 1] += h
    e_plus = evaluate_module(module, shifted, module.species, module.cutoff)["energy"]
    shifted.positions[3, 1] -= 2 * h
    e_minus = evaluate_module(module, shifted, module.species, module.cutoff)["energy"]
    assert live["forces"][3, 1] == pytest.approx(-(e_plus - e_minus) / (2 * h), abs=1e-7)


def test_cli_converts_a_user_file_and_checks_it(user_file, structure_file, tmp_path, capsys):
    out = tmp_path / "pair.pt"
    assert main(["convert", "torch", f"{user_file}:build", "-o", str(out), "--check", str(structure_file)]) == 0
    printed = capsys.readouterr().out
    assert "agree" in printed and "Cu Ni" in printed
    model = nnpkit.load(out)
    assert model.species == ["Cu", "Ni"] and model.cutoff == 4.0
    assert model.metadata["origin"]["kind"] == "pytorch-module"


def test_check_catches_a_module_reading_beyond_its_cutoff(user_file, structure_file, tmp_path, capsys):
    out = tmp_path / "leaky.pt"
    rc = main(["convert", "torch", f"{user_file}:build_leaky", "-o", str(out), "--check", str(structure_file)])
    assert rc == 1
    assert "check failed" in capsys.readouterr().err
    assert not out.exists()


def test_declared_units_are_applied_consistently(user_file, tmp_path):
    module = load_module(f"{user_file}:build")
    atoms = random_triclinic(n_atoms=8, seed=4)
    in_angstrom = convert_module(module, tmp_path / "ang.pt", check_structure=atoms)
    in_bohr = convert_module(module, tmp_path / "bohr.pt", length_unit="Bohr", energy_unit="Hartree",
                             check_structure=atoms)
    e_ang, e_bohr = nnpkit.load(in_angstrom).compute(atoms)["energy"], nnpkit.load(in_bohr).compute(atoms)["energy"]
    assert abs(e_ang - e_bohr) > 1e-2  # same numbers, other units: other physics, as declared


def test_other_sources_and_bad_sources(user_file, tmp_path):
    module = load_module(f"{user_file}:build")
    pickled = tmp_path / "module.pt"
    torch.save(module, pickled)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(module), scripted)
    atoms = random_triclinic(n_atoms=8, seed=3)
    for source in (pickled, scripted):
        loaded = load_module(str(source))
        path = convert_module(loaded, tmp_path / f"from-{source.stem}.pt", species=["Cu", "Ni"], cutoff=4.0,
                              check_structure=atoms)
        assert nnpkit.load(path).compute(atoms)["energy"] == pytest.approx(
            evaluate_module(module, atoms, ["Cu", "Ni"], 4.0)["energy"], rel=1e-12)

    state = tmp_path / "state.pt"
    torch.save(module.state_dict(), state)
    with pytest.raises(ValueError, match="state dict"):
        load_module(str(state))
    with pytest.raises(ValueError, match="NAME"):
        load_module(str(user_file))
    with pytest.raises(ValueError, match="defines no 'nothing'"):
        load_module(f"{user_file}:nothing")
    with pytest.raises(FileNotFoundError):
        load_module(str(tmp_path / "missing.pt"))

    class NotAContract(torch.nn.Module):
        species = ["Cu"]
        cutoff = 3.0

        def forward(self, x):
            return x.sum()

    with pytest.raises(ValueError, match="forward\\(species, edge_index, edge_vectors, n_local\\)"):
        convert_module(NotAContract(), tmp_path / "bad.pt", check_structure=atoms)
    assert np.isfinite(evaluate_module(module, atoms, ["Cu", "Ni"], 4.0)["energy"])
