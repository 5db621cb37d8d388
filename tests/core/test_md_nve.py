"""NVE molecular dynamics with the bundled copper model conserves energy.

Velocity Verlet conserves a shadow Hamiltonian that differs from the true one by
O(dt^2): the total energy then fluctuates with an amplitude of order
(omega dt)^2 / 8 of the kinetic energy and does not drift. For copper,
omega ~ 2 pi x 7 THz, so at 2 fs (omega dt ~ 0.09) and ~0.08 eV/atom kinetic
energy the amplitude is ~0.1 meV/atom: we allow 0.5 meV/atom, require the dt^2
scaling between 2 fs and 1 fs, and require no drift beyond the fluctuation.
Non-conservative forces (a sign error, a missing term, a cutoff discontinuity)
fail all three.
"""


import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

import nnpkit
from conftest import REPO
from nnpkit.ase import NNPCalculator

MODEL = REPO / "examples" / "models" / "copper-bp.pt"


def run_nve(timestep_fs: float, duration_fs: float = 200.0) -> np.ndarray:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.calc = NNPCalculator(nnpkit.load(MODEL))
    thermalize_momenta(atoms, 1200, rng=np.random.default_rng(7))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    energies = []
    dyn.attach(lambda: energies.append(atoms.get_total_energy() / len(atoms)), interval=1)
    dyn.run(int(duration_fs / timestep_fs))
    return np.array(energies)


@pytest.fixture(scope="module")
def trajectories():
    return {dt: run_nve(dt) for dt in (1.0, 2.0)}


def test_energy_fluctuation_is_small(trajectories):
    e = trajectories[2.0]
    assert e.max() - e.min() < 0.5e-3  # eV/atom


def test_fluctuation_scales_with_timestep_squared(trajectories):
    ratio = np.ptp(trajectories[2.0]) / np.ptp(trajectories[1.0])
    assert 2.5 < ratio < 6.0, ratio


def test_no_drift(trajectories):
    e = trajectories[2.0]
    t = np.arange(len(e))
    slope = np.polyfit(t, e, 1)[0]
    assert abs(slope * len(e)) < np.ptp(e)


def test_calculator_works_with_an_optimizer():
    from ase.optimize import BFGS

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=1)
    atoms.calc = NNPCalculator(MODEL)
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=200)
    assert np.abs(atoms.get_forces()).max() < 1e-3
    stress = atoms.get_stress()
    assert stress.shape == (6,)
    assert atoms.get_potential_energies().sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
