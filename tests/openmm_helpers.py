"""Shared pieces of the OpenMM tests: models for molecules, structures, unit conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.units import kJ, mol

openmm = pytest.importorskip("openmm")
unit = pytest.importorskip("openmm.unit")

#: kJ/mol per eV, with ASE's constants (the core uses the same CODATA 2014 values).
KJMOL_PER_EV = 1.0 / (kJ / mol)
#: Species of the molecular test models.
HCNO = ("H", "C", "N", "O")

#: A reduced triclinic box (OpenMM's form: a along x, b in the xy plane, |bx| <= ax/2 ...), Angstrom.
TRICLINIC_CELL = np.array([[9.0, 0.0, 0.0], [2.0, 8.6, 0.0], [-1.5, 1.2, 8.8]])


def random_molecule(n_atoms: int, seed: int, box: float = 7.0, min_distance: float = 1.0) -> np.ndarray:
    """Positions (Angstrom) of a random cluster with no pair closer than ``min_distance``."""
    rng = np.random.default_rng(seed)
    positions: list[np.ndarray] = []
    while len(positions) < n_atoms:
        trial = rng.random(3) * box
        if all(np.linalg.norm(trial - p) > min_distance for p in positions):
            positions.append(trial)
    return np.array(positions)


def numbers_hcno(n_atoms: int) -> list[int]:
    return [(1, 6, 7, 8)[i % 4] for i in range(n_atoms)]


def make_system(numbers, cell=None, masses=None):
    """An openmm.System with one particle per atom and, if given, the periodic box (Angstrom)."""
    from ase.data import atomic_masses

    system = openmm.System()
    for i, z in enumerate(numbers):
        system.addParticle(float(atomic_masses[z]) if masses is None else masses[i])
    if cell is not None:
        system.setDefaultPeriodicBoxVectors(*[openmm.Vec3(*(np.asarray(row) / 10.0)) for row in cell])
    return system


def context_for(system, positions_angstrom, platform="Reference", integrator=None):
    integrator = integrator or openmm.VerletIntegrator(0.0005)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform))
    context.setPositions(np.asarray(positions_angstrom) / 10.0)
    return context


def energy_forces(context, groups=-1):
    """Potential energy (kJ/mol) and forces (kJ/mol/nm) as floats/arrays."""
    state = context.getState(getEnergy=True, getForces=True, groups=groups)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return energy, np.asarray(forces)


def reference(model, positions, numbers, cell=None, pbc=False):
    """nnpkit.Model.compute converted to OpenMM units: energy kJ/mol, forces kJ/mol/nm."""
    result = model.compute(positions=positions, numbers=numbers, cell=cell, pbc=pbc)
    return result["energy"] * KJMOL_PER_EV, result["forces"] * KJMOL_PER_EV * 10.0, result


def import_plugin():
    """nnpkit.openmm, or a skip when this installation was built without the OpenMM plugin."""
    try:
        import nnpkit.openmm as nnp_openmm
    except FileNotFoundError as error:  # plugin library not installed
        pytest.skip(str(error))
    return nnp_openmm


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny systems run fastest on one thread (and the test machine is shared); import it into a test module."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
