"""Shared pieces of the OpenMM tests: models for molecules, structures, unit conversion."""

from __future__ import annotations

import locale

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


def _platform_skip_reason(name: str) -> str | None:
    names = {openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())}
    if name in names:
        return None
    failures = [f for f in openmm.Platform.getPluginLoadFailures() if name in f]
    why = failures[0] if failures else "no such platform in this OpenMM"
    hint = " (bash .ci/install-opencl installs pocl, a CPU OpenCL runtime)" if name == "OpenCL" else ""
    return f"OpenMM's {name} platform is not available: {why}{hint}"


#: OpenCL as a test parameter: skipped, with the reason, where OpenMM cannot load it.
OPENCL = pytest.param("OpenCL", marks=pytest.mark.skipif(_platform_skip_reason("OpenCL") is not None,
                                                          reason=str(_platform_skip_reason("OpenCL"))))
#: Every platform the tests run NNPForce on.
PLATFORMS = ["Reference", "CPU", OPENCL]
#: Platforms that keep positions and forces on a device; the tests run them in double precision
#: (pocl supports it), so positions reach the model unrounded and the model energy is Reference's.
DEVICE_PLATFORMS = ("OpenCL", "CUDA", "HIP")


def platform_properties(platform: str, precision: str = "double") -> dict[str, str]:
    return {"Precision": precision} if platform in DEVICE_PLATFORMS else {}


def force_atol(platform: str, scale: float, precision: str = "double") -> float:
    """Absolute force tolerance (kJ/mol/nm) against Reference for forces of magnitude ``scale``.

    Reference and CPU add the model's float64 forces as they are (1e-10 relative). The device
    platforms sum forces in 64-bit fixed point with 2^-32 kJ/mol/nm resolution, after rounding them
    to float in single and mixed precision (relative 2^-24 each).
    """
    if platform not in DEVICE_PLATFORMS:
        return 1e-10 * scale
    return (2.0**-31 + 1e-10 * scale) if precision == "double" else 2e-7 * scale


def context_for(system, positions_angstrom, platform="Reference", integrator=None, precision="double"):
    integrator = integrator or openmm.VerletIntegrator(0.0005)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform),
                             platform_properties(platform, precision))
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


@pytest.fixture(scope="module", autouse=True)
def keep_locale():
    """OpenMM's OpenCL platform (PME on pocl) sets the process's C locale to "C", after which later
    tests' subprocess(text=True) decode UTF-8 output as ASCII; restore it. Import it into a test module."""
    previous = locale.setlocale(locale.LC_CTYPE)
    yield
    locale.setlocale(locale.LC_CTYPE, previous)
