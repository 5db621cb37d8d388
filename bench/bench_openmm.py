"""OpenMM plugin benchmark: time per step and ns/day of the OpenMM examples on the CPU
platform, the same model driven by an ASE MD loop, the plugin's overhead over the core,
and the ML/MM example on every platform asked for, with where its time goes.

    python bench/bench_openmm.py [--model model.pt] [--steps 20] [--threads 1]
                                 [--platforms CPU OpenCL] [--precision mixed]

Pure NNP: the 180-atom water box of examples/openmm (every atom by the model).
  core     nnpkit.Model.compute on the same coordinates (energy + forces, no committee stats)
  openmm   NNPForce, CPU platform, VerletIntegrator
  ase      NNPCalculator + ase.md.VelocityVerlet (as users run it, committee statistics
           included; also without them, to isolate ASE's own loop cost)
ML/MM: acetamide (9 atoms, model) in 996 TIP3P atoms with PME (openmm-ml mechanical
embedding), LangevinMiddle at 1 fs, on each platform of --platforms (default CPU, and
OpenCL where OpenMM has it):
  step          one MD step of the whole System
  MM only       one step integrating only the MM force group (the NNPForce left out)
  NNP per step  step - MM only: what the model adds to a step
  model         nnpkit.Model.compute of the 9 atoms (energy + forces): the core alone
  transfer      getState(energy + forces) of the model's group alone, less the same call for an
                empty group and less model: positions from the platform, forces back to it,
                the plugin's own work, measured in isolation
  overlap       NNP per step - model - transfer: on the device platforms the model runs on a
                worker thread while the device computes MM; negative when that hides model
                time, positive when both compete for the same cores (pocl: the OpenCL
                device is the CPU the model runs on)
  energy only   getState(getEnergy=True) of the model's group, against energy + forces:
                the backward pass that energy-only evaluations skip
Writes a summary to stdout and to bench/results/openmm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "openmm"))


def per_call(fn, repeats: int, blocks: int = 4) -> float:
    """Seconds per call: the best of ``blocks`` blocks of ``repeats // blocks`` calls
    (the best block is the least disturbed by other work on a shared machine)."""
    fn()  # warm-up (TorchScript optimises on the first calls)
    fn()
    per_block = max(1, repeats // blocks)
    best = float("inf")
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(per_block):
            fn()
        best = min(best, (time.perf_counter() - start) / per_block)
    return best


def paired_difference(reference_fn, fn, repeats: int) -> tuple[float, float]:
    """Median of (fn - reference_fn) over adjacent pairs of calls, and the median of reference_fn:
    adjacent calls see the same load, so the difference survives a busy machine."""
    reference_fn()
    fn()
    differences, references = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        reference_fn()
        middle = time.perf_counter()
        fn()
        end = time.perf_counter()
        differences.append((end - middle) - (middle - start))
        references.append(middle - start)
    return float(np.median(differences)), float(np.median(references))


def ns_per_day(dt_fs: float, seconds_per_step: float) -> float:
    return dt_fs * 1e-6 / seconds_per_step * 86400.0


def available_platforms() -> list[str]:
    import openmm

    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def mlmm_breakdown(model_path: str, platform: str, precision: str | None, steps: int) -> dict[str, float]:
    """Seconds per step of the ML/MM example on ``platform`` and where they go (see the docstring)."""
    import openmm
    import openmm.unit as unit

    import mlmm_water
    import nnpkit

    simulation, ml_atoms = mlmm_water.build_simulation(model_path, 2.2, platform, 1.0, 300.0, precision)
    context, integrator = simulation.context, simulation.integrator
    t_step = per_call(lambda: integrator.step(1), steps)
    integrator.setIntegrationForceGroups({0})
    t_mm = per_call(lambda: integrator.step(1), steps)
    integrator.setIntegrationForceGroups(-1)
    t_energy = per_call(lambda: context.getState(getEnergy=True, groups={1}), steps)
    t_energy_forces = per_call(lambda: context.getState(getEnergy=True, getForces=True, groups={1}), steps)
    t_empty_group = per_call(lambda: context.getState(getEnergy=True, getForces=True, groups={2}), steps)
    state = context.getState(getPositions=True)
    positions = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.angstrom))[ml_atoms]
    atoms = list(simulation.topology.atoms())
    numbers = [atoms[i].element.atomic_number for i in ml_atoms]
    box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.angstrom))
    model = nnpkit.load(model_path)
    t_model = per_call(lambda: model.compute(positions=positions, numbers=numbers, cell=box, pbc=True,
                                             committee_statistics=False, extrapolation=False), steps)
    properties = context.getPlatform().getPropertyNames()
    transfer = t_energy_forces - t_empty_group - t_model
    return {
        "platform": platform,
        "precision": context.getPlatform().getPropertyValue(context, "Precision") if "Precision" in properties else "-",
        "atoms": simulation.topology.getNumAtoms(),
        "ml_atoms": len(ml_atoms),
        "step_s": t_step,
        "mm_only_step_s": t_mm,
        "nnp_per_step_s": t_step - t_mm,
        "model_compute_s": t_model,
        "transfer_s": transfer,
        "overlap_s": t_step - t_mm - t_model - transfer,
        "nnp_energy_only_s": t_energy,
        "nnp_energy_and_forces_s": t_energy_forces,
        "ns_per_day_at_1fs": ns_per_day(1.0, t_step),
    }


def print_mlmm(rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    print(f"ML/MM, {rows[0]['ml_atoms']} of {rows[0]['atoms']} atoms by the model, PME water, dt 1 fs (ms):")
    print("  platform (precision)   step  MM only  NNP/step  model  transfer  overlap | NNP E only   E+F  ns/day")
    for r in rows:
        print(f"  {r['platform']:>8} ({r['precision']:>6})  {r['step_s'] * 1e3:6.2f}  {r['mm_only_step_s'] * 1e3:7.2f}  "
              f"{r['nnp_per_step_s'] * 1e3:8.2f}  {r['model_compute_s'] * 1e3:5.2f}  {r['transfer_s'] * 1e3:8.2f}  "
              f"{r['overlap_s'] * 1e3:+7.2f} | {r['nnp_energy_only_s'] * 1e3:10.2f}  "
              f"{r['nnp_energy_and_forces_s'] * 1e3:5.2f}  {r['ns_per_day_at_1fs']:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="nnpkit model with H, C, N, O (default: the examples' demonstration model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dt", type=float, default=0.5, help="fs")
    parser.add_argument("--platforms", nargs="+", help="ML/MM platforms (default: CPU, and OpenCL if present)")
    parser.add_argument("--precision", default="mixed", help="precision on OpenCL/CUDA/HIP (default mixed)")
    args = parser.parse_args()

    import openmm
    import openmm.app as app
    import openmm.unit as unit
    from ase import Atoms
    from ase import units as ase_units
    from ase.md.verlet import VelocityVerlet

    import nnpkit
    import nnpkit.openmm
    from nnpkit.ase import NNPCalculator

    nnpkit.set_num_threads(args.threads)
    results: dict[str, object] = {"threads": args.threads, "steps": args.steps, "dt_fs": args.dt}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            from demo_model import demonstration_model

            model_path = demonstration_model(os.path.join(tmp, "demo.pt"))
        model = nnpkit.load(model_path)
        results["model"] = {"species": model.species, "cutoff_A": model.cutoff, "committee": model.committee_size}

        # ---------------------------------------------------------- pure NNP
        pdb = app.PDBFile(os.path.join(ROOT, "examples", "openmm", "water-box.pdb"))
        positions = np.asarray(pdb.getPositions(asNumpy=True).value_in_unit(unit.angstrom))
        numbers = [a.element.atomic_number for a in pdb.topology.atoms()]
        cell = np.asarray(pdb.topology.getPeriodicBoxVectors().value_in_unit(unit.angstrom))
        n_atoms = len(numbers)

        t_core = per_call(lambda: model.compute(positions=positions, numbers=numbers, cell=cell, pbc=True,
                                                committee_statistics=False), args.steps)

        system = openmm.System()
        for atom in pdb.topology.atoms():
            system.addParticle(atom.element.mass)
        system.setDefaultPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
        system.addForce(nnpkit.openmm.create_nnp_force(model_path, pdb.topology))
        integrator = openmm.VerletIntegrator(args.dt * unit.femtosecond)
        context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"))
        context.setPositions(pdb.positions)
        t_openmm = per_call(lambda: integrator.step(1), args.steps)
        t_eval = per_call(lambda: context.getState(getEnergy=True, getForces=True), args.steps)
        core_call = lambda: model.compute(positions=positions, numbers=numbers, cell=cell, pbc=True,  # noqa: E731
                                          committee_statistics=False)
        overhead_eval, core_median = paired_difference(core_call, lambda: context.getState(getEnergy=True,
                                                                                           getForces=True),
                                                       args.steps)
        overhead_step, _ = paired_difference(core_call, lambda: integrator.step(1), args.steps)

        atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
        atoms.calc = NNPCalculator(model)
        dyn = VelocityVerlet(atoms, timestep=args.dt * ase_units.fs)
        t_ase = per_call(lambda: dyn.run(1), args.steps)
        # NNPCalculator also computes committee statistics (one backward pass per member);
        # the same loop without them isolates ASE's own cost.
        plain = nnpkit.load(model_path)
        full_compute = plain.compute
        plain.compute = lambda *a, **k: full_compute(*a, **{**k, "committee": False})  # type: ignore[method-assign]
        atoms.calc = NNPCalculator(plain)
        t_ase_plain = per_call(lambda: dyn.run(1), args.steps)

        results["pure_nnp"] = {
            "atoms": n_atoms,
            "core_compute_s": t_core,
            "openmm_step_s": t_openmm,
            "openmm_energy_forces_s": t_eval,
            "ase_step_s": t_ase,
            "ase_step_without_committee_stats_s": t_ase_plain,
            "openmm_ns_per_day": ns_per_day(args.dt, t_openmm),
            "ase_ns_per_day": ns_per_day(args.dt, t_ase),
            "openmm_speedup_over_ase": t_ase / t_openmm,
            "core_compute_median_s": core_median,
            # OpenMM minus core, measured on adjacent calls (median): one energy+force evaluation,
            # and one whole Verlet step.
            "plugin_overhead_evaluation_s": overhead_eval,
            "plugin_overhead_step_s": overhead_step,
            "plugin_overhead_step_percent": 100.0 * overhead_step / core_median,
        }

        # ---------------------------------------------------------- ML/MM
        platforms = args.platforms or [p for p in ("CPU", "OpenCL") if p in available_platforms()]
        results["ml_mm"] = [
            mlmm_breakdown(model_path, platform, None if platform in ("Reference", "CPU") else args.precision,
                           args.steps * 5)
            for platform in platforms
        ]

    p = results["pure_nnp"]
    print(f"pure NNP, {p['atoms']} atoms, {args.threads} thread(s), dt {args.dt} fs:")
    print(f"  core compute        {p['core_compute_s'] * 1e3:9.2f} ms")
    print(f"  OpenMM step (CPU)   {p['openmm_step_s'] * 1e3:9.2f} ms  {p['openmm_ns_per_day']:.4f} ns/day "
          f"(paired overhead over the core: step {p['plugin_overhead_step_s'] * 1e3:+.2f} ms = "
          f"{p['plugin_overhead_step_percent']:+.1f}%, evaluation {p['plugin_overhead_evaluation_s'] * 1e3:+.2f} ms)")
    print(f"  ASE VelocityVerlet  {p['ase_step_s'] * 1e3:9.2f} ms  {p['ase_ns_per_day']:.4f} ns/day "
          f"(OpenMM is {p['openmm_speedup_over_ase']:.2f}x faster)")
    print(f"  ASE, no committee   {p['ase_step_without_committee_stats_s'] * 1e3:9.2f} ms  "
          f"(NNPCalculator computes committee statistics every step)")
    print_mlmm(results["ml_mm"])
    out_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "openmm.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
