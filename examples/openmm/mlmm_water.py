"""ML/MM in OpenMM: a small molecule (acetamide) treated by an nnpkit model inside
a classical TIP3P water box, set up through openmm-ml's mechanical embedding.

    python examples/openmm/mlmm_water.py [--model model.pt] [--steps 100]

The molecule's internal energy comes from the model; its interactions with the
water, and the water itself, from the classical force field (the molecule gets
Lennard-Jones parameters and zero charges here, enough for a demonstration).
Without --model a DEMONSTRATION model with random weights is generated (see
demo_model.py): the run shows the plumbing and the speed, not chemistry.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import openmm
import openmm.app as app
import openmm.unit as unit
from openmmml import MLPotential

import nnpkit
import nnpkit.openmm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nnp_md import run  # noqa: E402

# Lennard-Jones parameters of the solute's elements (sigma nm, epsilon kJ/mol; GAFF-like values).
LJ = {"H": (0.25, 0.07), "C": (0.34, 0.36), "N": (0.325, 0.71), "O": (0.296, 0.88)}


def solute_topology():
    """Acetamide from ASE's molecule set as an OpenMM Topology (residue LIG, bonds by distance)."""
    from ase.build import molecule

    atoms = molecule("CH3CONH2")
    topology = app.Topology()
    residue = topology.addResidue("LIG", topology.addChain())
    members = [topology.addAtom(f"{s}{i + 1}", app.Element.getBySymbol(s), residue)
               for i, s in enumerate(atoms.get_chemical_symbols())]
    for a in range(len(members)):
        for b in range(a):
            if atoms.get_distance(a, b) < 1.6:
                topology.addBond(members[a], members[b])
    return topology, atoms.positions / 10.0 + 1.0


def solute_force_field_xml(topology) -> str:
    """A residue template for the solute: element-typed atoms with Lennard-Jones, no charges."""
    types = "".join(f'<Type name="lig-{e}" class="lig-{e}" element="{e}" mass="{app.Element.getBySymbol(e).mass._value}"/>'
                    for e in LJ)
    atoms = "".join(f'<Atom name="{a.name}" type="lig-{a.element.symbol}"/>' for a in topology.atoms())
    bonds = "".join(f'<Bond atomName1="{a.name}" atomName2="{b.name}"/>' for a, b in topology.bonds())
    nonbonded = "".join(f'<Atom type="lig-{e}" charge="0" sigma="{s}" epsilon="{eps}"/>' for e, (s, eps) in LJ.items())
    return (f'<ForceField><AtomTypes>{types}</AtomTypes><Residues><Residue name="LIG">{atoms}{bonds}</Residue>'
            f'</Residues><NonbondedForce coulomb14scale="0.833333" lj14scale="0.5">{nonbonded}</NonbondedForce>'
            f'</ForceField>')


def build_simulation(model_path: str, box_nm: float, platform: str, dt_fs: float, temperature: float,
                     precision: str | None = None):
    topology, positions = solute_topology()
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as xml:
        xml.write(solute_force_field_xml(topology))
    try:
        force_field = app.ForceField("tip3p.xml", xml.name)
    finally:
        os.unlink(xml.name)
    modeller = app.Modeller(topology, positions * unit.nanometer)
    modeller.addSolvent(force_field, boxSize=openmm.Vec3(box_nm, box_nm, box_nm) * unit.nanometer)
    mm_system = force_field.createSystem(modeller.topology, nonbondedMethod=app.PME,
                                         nonbondedCutoff=0.8 * unit.nanometer, constraints=app.HBonds,
                                         rigidWater=True)
    ml_atoms = [a.index for a in modeller.topology.atoms() if a.residue.name == "LIG"]
    potential = MLPotential("nnpkit", modelPath=model_path)
    system = potential.createMixedSystem(modeller.topology, mm_system, ml_atoms, forceGroup=1)
    integrator = openmm.LangevinMiddleIntegrator(temperature * unit.kelvin, 1.0 / unit.picosecond,
                                                 dt_fs * unit.femtosecond)
    integrator.setRandomNumberSeed(1)
    properties = {} if precision is None else {"Precision": precision}  # OpenCL, CUDA, HIP
    simulation = app.Simulation(modeller.topology, system, integrator, openmm.Platform.getPlatformByName(platform),
                                properties)
    simulation.context.setPositions(minimized_positions(system, modeller.positions))
    simulation.context.setVelocitiesToTemperature(temperature * unit.kelvin, 1)
    return simulation, ml_atoms


def minimized_positions(system, positions, iterations: int = 50):
    """A short energy minimisation on the CPU platform, whatever platform the run uses: OpenMM's
    minimiser crashes in pocl's OpenCL (its getScale kernel), and 50 iterations cost little."""
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, iterations)
    return context.getState(getPositions=True).getPositions()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="nnpkit model file with H, C, N, O (default: a demonstration model)")
    parser.add_argument("--box", type=float, default=2.2, help="water box edge, nm")
    parser.add_argument("--platform", default="CPU", choices=["CPU", "Reference", "OpenCL", "CUDA", "HIP"])
    parser.add_argument("--precision", choices=["single", "mixed", "double"],
                        help="OpenCL/CUDA/HIP precision (default: the platform's, single)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--report", type=int, default=50)
    parser.add_argument("--dt", type=float, default=1.0, help="time step, fs")
    parser.add_argument("--temperature", type=float, default=300.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            from demo_model import demonstration_model

            model_path = demonstration_model(os.path.join(tmp, "demo-hcno.pt"))
            print("NOTE: using a DEMONSTRATION model with random weights; energies are not physical.")
        simulation, ml_atoms = build_simulation(model_path, args.box, args.platform, args.dt, args.temperature,
                                                args.precision)
        n = simulation.topology.getNumAtoms()
        print(f"ML/MM: {len(ml_atoms)} atoms by the model, {n - len(ml_atoms)} by TIP3P (PME)")
        ml = simulation.context.getState(getEnergy=True, groups={1}).getPotentialEnergy()
        print(f"model energy of the molecule: {ml.value_in_unit(unit.kilojoule_per_mole):.4f} kJ/mol")
        deviation = nnpkit.openmm.committee_deviation(simulation.context)
        print(f"committee deviation: energy {deviation['energy_std']:.4f} kJ/mol, "
              f"max force {deviation['max_forces_std']:.4f} kJ/mol/nm")
        run(simulation, args.steps, args.report, args.dt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
