"""Pure-NNP molecular dynamics in OpenMM from a PDB file, with nnpkit's NNPForce.

    python examples/openmm/nnp_md.py [--pdb water-box.pdb] [--model model.pt] [--steps 200]

Every atom of the PDB is handled by the model (periodic when the PDB has a CRYST1
box). Without --model a DEMONSTRATION model with random weights is generated
(see demo_model.py): the run then shows the plumbing and the speed, not physics.
The structure is energy-minimised with the model before MD starts (a PDB built
with another force field is far from the model's minimum: ANI-2x sees forces
of ~8,000 kJ/mol/nm on water-box.pdb, which would blow up the first steps);
--minimize 0 skips it.
Prints energies as it goes and the speed in ns/day; with a committee model it
also writes the committee deviation every --report steps (NNPUncertaintyReporter).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

import nnpkit
import nnpkit.openmm

HERE = os.path.dirname(os.path.abspath(__file__))


def build_simulation(pdb_path: str, model_path: str, platform: str, dt_fs: float, temperature: float):
    pdb = app.PDBFile(pdb_path)
    system = openmm.System()
    for atom in pdb.topology.atoms():
        system.addParticle(atom.element.mass)
    if pdb.topology.getPeriodicBoxVectors() is not None:
        system.setDefaultPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
    system.addForce(nnpkit.openmm.create_nnp_force(model_path, pdb.topology))
    integrator = openmm.LangevinMiddleIntegrator(temperature * unit.kelvin, 1.0 / unit.picosecond,
                                                 dt_fs * unit.femtosecond)
    integrator.setRandomNumberSeed(1)
    simulation = app.Simulation(pdb.topology, system, integrator, openmm.Platform.getPlatformByName(platform))
    simulation.context.setPositions(pdb.positions)
    simulation.context.setVelocitiesToTemperature(temperature * unit.kelvin, 1)
    return simulation


def max_force(simulation: app.Simulation) -> float:
    """Largest force on any atom, kJ/mol/nm."""
    forces = simulation.context.getState(getForces=True).getForces(asNumpy=True)
    return float(np.linalg.norm(forces.value_in_unit(unit.kilojoule_per_mole / unit.nanometer), axis=1).max())


def minimize(simulation: app.Simulation, max_iterations: int, temperature: float) -> tuple[float, float]:
    """Energy minimisation with the model (L-BFGS, OpenMM's default tolerance), then
    fresh velocities at ``temperature``; returns the max force before and after."""
    before = max_force(simulation)
    simulation.minimizeEnergy(maxIterations=max_iterations)
    after = max_force(simulation)
    simulation.context.setVelocitiesToTemperature(temperature * unit.kelvin, 1)
    print(f"minimised ({max_iterations} iterations at most): max force {before:.1f} -> {after:.1f} kJ/mol/nm")
    return before, after


def run(simulation: app.Simulation, steps: int, report: int, dt_fs: float) -> float:
    """Runs ``steps`` steps, printing energies every ``report``; returns ns/day."""
    simulation.context.getState(getEnergy=True, getForces=True)  # model warm-up, not timed
    print(f"{'step':>8} {'potential':>14} {'kinetic':>12} {'total':>14}   (kJ/mol)")
    elapsed = 0.0
    done = 0
    while done < steps:
        n = min(report, steps - done)
        start = time.perf_counter()
        simulation.step(n)
        elapsed += time.perf_counter() - start
        done += n
        state = simulation.context.getState(getEnergy=True)
        pot = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        kin = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        print(f"{simulation.currentStep:8d} {pot:14.4f} {kin:12.4f} {pot + kin:14.4f}")
    per_step = elapsed / steps
    ns_per_day = dt_fs * 1e-6 / per_step * 86400.0
    print(f"{per_step * 1e3:.2f} ms/step, {ns_per_day:.3f} ns/day "
          f"({simulation.topology.getNumAtoms()} atoms, {simulation.context.getPlatform().getName()} platform, "
          f"{nnpkit.get_num_threads()} threads)")
    return ns_per_day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdb", default=os.path.join(HERE, "water-box.pdb"))
    parser.add_argument("--model", help="nnpkit model file (default: a generated demonstration model)")
    parser.add_argument("--platform", default="CPU", choices=["CPU", "Reference", "OpenCL", "CUDA", "HIP"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--report", type=int, default=50)
    parser.add_argument("--dt", type=float, default=0.5, help="time step, fs")
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("--minimize", type=int, default=500, metavar="N",
                        help="energy-minimisation iterations before MD (default 500; 0: none)")
    parser.add_argument("--uncertainty", default=None, help="committee deviation file (default: none)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            sys.path.insert(0, HERE)
            from demo_model import demonstration_model

            model_path = demonstration_model(os.path.join(tmp, "demo-hcno.pt"))
            print("NOTE: using a DEMONSTRATION model with random weights; energies are not physical.")
        model = nnpkit.load(model_path)
        print(f"model {model_path}: species {model.species}, cutoff {model.cutoff} A, "
              f"committee of {model.committee_size}")
        simulation = build_simulation(args.pdb, model_path, args.platform, args.dt, args.temperature)
        if args.minimize > 0:
            minimize(simulation, args.minimize, args.temperature)
        if args.uncertainty and model.committee_size > 1:
            simulation.reporters.append(nnpkit.openmm.NNPUncertaintyReporter(args.uncertainty, args.report))
        run(simulation, args.steps, args.report, args.dt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
