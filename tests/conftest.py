"""Shared fixtures: small random models exported to files, random structures."""

from __future__ import annotations

import os
import pathlib
import sys
from unittest import mock

import numpy as np
import pytest
import torch

import nnpkit
from nnpkit.models import BehlerParrinelloModel, MessagePassingModel, MessagePassingSizes, SymmetryFunctionSet

#: The repository, and the test data that live in it (tests/data). Tests sit one folder
#: below this file (tests/core, tests/lammps, ...): they take paths from here, never
#: from their own __file__.
REPO = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> pathlib.Path:
    """Path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} not available (../shared/data is absent in this checkout)")
    return path


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.3) -> torch.nn.Module:
    """Non-trivial random weights, so that every term of the energy matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) * scale)
    return module


def make_bp(species=("Cu", "Ni"), cutoff=4.5, committee_size=1, dtype=torch.float64, seed=0, cutoff_type="cos"):
    sf = SymmetryFunctionSet.standard(list(species), cutoff, n_radial=5, cutoff_type=cutoff_type)
    # add narrow (type 3) functions so all three forms are exercised
    from nnpkit.models import AngularSymmetryFunction

    extra = [
        AngularSymmetryFunction(c, (species[0], species[-1]), 0.01, 2.0, lam, cutoff, rs=0.5, narrow=True,
                                cutoff_type=cutoff_type)
        for c in species
        for lam in (-1.0, 1.0)
    ]
    sf = SymmetryFunctionSet(list(species), sf.functions + extra)
    model = BehlerParrinelloModel(sf, hidden=(8, 8), committee_size=committee_size, dtype=torch.float64)
    randomize_(model.networks, seed)
    with torch.no_grad():
        model.scale.fill_(0.5)
        model.shift.fill_(-0.2)
        model.energy_offset.copy_(torch.linspace(-1.0, -2.0, len(species)))
    return model.to(dtype)


def make_mp(species=("Cu", "Ni"), cutoff=4.0, dtype=torch.float64, seed=1):
    model = MessagePassingModel(list(species), cutoff, MessagePassingSizes(n_layers=2, features=8, n_basis=6))
    randomize_(model, seed, scale=0.4)
    return model.to(dtype)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def bp_model(model_dir) -> nnpkit.Model:
    return nnpkit.load(nnpkit.export(make_bp(), model_dir / "bp.pt"))


@pytest.fixture(scope="session")
def bp_committee(model_dir) -> nnpkit.Model:
    return nnpkit.load(nnpkit.export(make_bp(committee_size=3, seed=5), model_dir / "bp-committee.pt"))


@pytest.fixture(scope="session")
def mp_model(model_dir) -> nnpkit.Model:
    return nnpkit.load(nnpkit.export(make_mp(), model_dir / "mp.pt"))


@pytest.fixture(scope="session", params=["bp", "mp"])
def any_model(request, bp_model, mp_model) -> nnpkit.Model:
    return bp_model if request.param == "bp" else mp_model


def random_triclinic(n_atoms=14, seed=0, species=(29, 28), density=0.07):
    """A random, strongly non-orthogonal periodic cell with two elements and no close contacts."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    volume = n_atoms / density
    a = volume ** (1 / 3)
    cell = np.array([[a, 0, 0], [0.35 * a, 0.9 * a, 0], [-0.25 * a, 0.3 * a, 1.05 * a]])
    cell *= (volume / abs(np.linalg.det(cell))) ** (1 / 3)
    positions = []
    while len(positions) < n_atoms:
        trial = rng.random(3) @ cell
        atoms = Atoms("X" * (len(positions) + 1), positions=positions + [trial], cell=cell, pbc=True)
        if len(positions) == 0 or atoms.get_distances(len(positions), range(len(positions)), mic=True).min() > 1.9:
            positions.append(trial)
    numbers = [species[i % len(species)] for i in range(n_atoms)]
    return Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)


class NanGradientModel(torch.nn.Module):
    """A model whose energy is finite and whose gradient is NaN: each edge adds sqrt(0 * r^2) = 0,
    whose derivative is 0 times infinity. Any force evaluation fails, so an energy that comes back
    proves that no backward pass ran."""

    def __init__(self, species=("H", "C", "N", "O"), cutoff=4.0):
        super().__init__()
        self.species = list(species)
        self.cutoff = cutoff

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor,
                n_local: int) -> torch.Tensor:
        per_edge = torch.sqrt(0.0 * (edge_vectors**2).sum(1))
        energies = 0.1 * (species + 1).to(edge_vectors.dtype)
        return energies.index_add(0, edge_index[0], per_edge)


def export_nan_gradient_model(path, species=("H", "C", "N", "O")) -> str:
    """A :class:`NanGradientModel` file. ``nnpkit.export`` refuses such a model (it validates every
    file it writes with a force evaluation), so its validation is skipped here, for this model only."""
    with mock.patch.object(sys.modules["nnpkit.export"], "validate_model_file", lambda tmp: None):
        return nnpkit.export(NanGradientModel(species), path)
