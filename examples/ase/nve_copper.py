"""Short NVE molecular dynamics of a periodic copper crystal with the bundled
model, through ASE. Prints the total energy and its drift.

Usage: python examples/ase/nve_copper.py [--model PATH] [--steps N] [--timestep FS]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

import nnpkit
from nnpkit.ase import NNPCalculator

DEFAULT_MODEL = pathlib.Path(__file__).resolve().parents[1] / "models" / "copper-bp.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--timestep", type=float, default=2.0, help="fs")
    parser.add_argument("--temperature", type=float, default=500.0, help="K, initial velocities at twice this")
    args = parser.parse_args()

    model = nnpkit.load(args.model)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (3, 3, 3)
    atoms.calc = NNPCalculator(model)
    thermalize_momenta(atoms, 2 * args.temperature, rng=np.random.default_rng(1))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, args.timestep * units.fs)

    print(f"model: {model}")
    print(f"{len(atoms)} Cu atoms, NVE, timestep {args.timestep} fs, {args.steps} steps")
    print(f"{'step':>6} {'E_pot (eV)':>14} {'E_kin (eV)':>12} {'E_tot (eV)':>14} {'T (K)':>8}")
    energies = []

    def report() -> None:
        epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        energies.append(epot + ekin)
        if dyn.nsteps % max(args.steps // 10, 1) == 0:
            print(f"{dyn.nsteps:6d} {epot:14.6f} {ekin:12.6f} {epot + ekin:14.6f} {atoms.get_temperature():8.1f}")

    dyn.attach(report, interval=1)
    start = time.perf_counter()
    dyn.run(args.steps)
    elapsed = time.perf_counter() - start
    e = np.array(energies)
    t_ps = np.arange(len(e)) * args.timestep / 1000.0
    drift = np.polyfit(t_ps, e, 1)[0] / len(atoms)
    print(f"energy fluctuation (max - min): {1000 * (e.max() - e.min()) / len(atoms):.4f} meV/atom")
    print(f"energy drift: {1000 * drift:.4f} meV/atom/ps over {t_ps[-1]:.2f} ps")
    print(f"speed: {len(atoms) * args.steps / elapsed:.0f} atom-steps/s")


if __name__ == "__main__":
    main()
