"""NNPForce on a GPU platform against Reference, and its speed: one command for a machine with a GPU.

    python bench/gpu_check.py                      # every GPU platform OpenMM loads (CUDA, HIP)
    python bench/gpu_check.py --platforms OpenCL   # any other platform by name

For each platform, in double and mixed precision:
  1. the 180-atom water box of examples/openmm (every atom by the model, periodic) and
  2. the ML/MM example (acetamide in 996 TIP3P atoms, PME, constraints), after 10 MD steps,
give the model's energy and forces of Reference at the same positions (energy within 1e-10
relative in double and mixed precision; forces within 2^-31 kJ/mol/nm + 1e-10 relative in double,
2e-7 relative in mixed, where the platform rounds them to float). Then the ML/MM step on the CPU
platform and on the GPU platform (mixed precision) with where the time goes (see bench_openmm.py).
Prints PASS/FAIL per check and exits 1 if any failed. Uses the examples' demonstration model
unless --model is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "openmm"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

GPU_PLATFORMS = ("CUDA", "HIP")


def model_group_state(context):
    import openmm.unit as unit

    state = context.getState(getEnergy=True, getForces=True, groups={1})
    return (state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
            np.asarray(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)))


def compare_with_reference(label, system, context, precision) -> bool:
    """The model's group (1) in ``context`` against a Reference Context at the same state."""
    import openmm

    state = context.getState(getPositions=True)
    reference = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    reference.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
    reference.setPositions(state.getPositions())
    energy, forces = model_group_state(context)
    ref_energy, ref_forces = model_group_state(reference)
    scale = np.abs(ref_forces).max()
    force_tol = (2.0**-31 + 1e-10 * scale) if precision == "double" else 2e-7 * scale
    energy_error = abs(energy - ref_energy) / abs(ref_energy)
    force_error = np.abs(forces - ref_forces).max()
    ok = energy_error <= 1e-10 and force_error <= force_tol
    print(f"  {'PASS' if ok else 'FAIL'}  {label:<34} energy rel. error {energy_error:.1e} (<= 1e-10), "
          f"max force error {force_error:.1e} kJ/mol/nm (<= {force_tol:.1e})")
    return ok


def water_box(model_path, platform, precision):
    import openmm
    import openmm.app as app
    import openmm.unit as unit

    import nnpkit.openmm

    pdb = app.PDBFile(os.path.join(ROOT, "examples", "openmm", "water-box.pdb"))
    system = openmm.System()
    for atom in pdb.topology.atoms():
        system.addParticle(atom.element.mass)
    system.setDefaultPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
    force = nnpkit.openmm.create_nnp_force(model_path, pdb.topology)
    force.setForceGroup(1)
    system.addForce(force)
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.5 * unit.femtosecond)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform), {"Precision": precision})
    context.setPositions(pdb.positions)
    integrator.step(10)
    return system, context


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", nargs="+", help="default: every GPU platform OpenMM loads (CUDA, HIP)")
    parser.add_argument("--model", help="nnpkit model with H, C, N, O (default: the examples' demonstration model)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the model")
    args = parser.parse_args()

    import openmm

    import mlmm_water
    import nnpkit
    from bench_openmm import available_platforms, mlmm_breakdown, print_mlmm

    nnpkit.set_num_threads(args.threads)
    present = available_platforms()
    platforms = args.platforms or [p for p in GPU_PLATFORMS if p in present]
    if not platforms:
        print("no GPU platform in this OpenMM (CUDA, HIP); OpenMM says:")
        for failure in openmm.Platform.getPluginLoadFailures():
            print("  " + failure)
        return 1
    missing = [p for p in platforms if p not in present]
    if missing:
        print(f"OpenMM has no {', '.join(missing)} platform here (it has {', '.join(present)})")
        return 1
    print(f"OpenMM {openmm.__version__}, nnpkit {nnpkit.__version__}, platforms {', '.join(platforms)}")
    all_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            from demo_model import demonstration_model

            model_path = demonstration_model(os.path.join(tmp, "demo-hcno.pt"))
        rows = [mlmm_breakdown(model_path, "CPU", None, args.steps)]
        for platform in platforms:
            device = openmm.Platform.getPlatformByName(platform)
            print(f"{platform}:")
            for precision in ("double", "mixed"):
                system, context = water_box(model_path, platform, precision)
                name = device.getPropertyValue(context, "DeviceName") if "DeviceName" in device.getPropertyNames() else ""
                all_ok &= compare_with_reference(f"water box, {precision}", system, context, precision)
                simulation, _ = mlmm_water.build_simulation(model_path, 2.2, platform, 1.0, 300.0, precision)
                simulation.step(10)
                all_ok &= compare_with_reference(f"ML/MM example, {precision}", simulation.system,
                                                 simulation.context, precision)
            print(f"  device: {name}")
            rows.append(mlmm_breakdown(model_path, platform, "mixed", args.steps))
    print_mlmm(rows)
    print("all checks passed" if all_ok else "SOME CHECKS FAILED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
