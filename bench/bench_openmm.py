"""OpenMM plugin benchmark: time per step and ns/day of the OpenMM examples on the CPU
platform, the same model driven by an ASE MD loop, and the plugin's overhead over the core.

    python bench/bench_openmm.py [--model model.pt] [--steps 20] [--threads 1]

Pure NNP: the 180-atom water box of examples/openmm (every atom by the model).
  core     nnpkit.Model.compute on the same coordinates (energy + forces, no committee stats)
  openmm   NNPForce, CPU platform, VerletIntegrator
  ase      NNPCalculator + ase.md.VelocityVerlet (as users run it, committee statistics
           included; also without them, to isolate ASE's own loop cost)
ML/MM: acetamide (model) in TIP3P water with PME (openmm-ml mechanical embedding).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="nnpkit model with H, C, N, O (default: the examples' demonstration model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dt", type=float, default=0.5, help="fs")
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
                                                committee=False), args.steps)

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
                                          committee=False)
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
        import mlmm_water

        simulation, ml_atoms = mlmm_water.build_simulation(model_path, 2.2, "CPU", 1.0, 300.0)
        t_mlmm = per_call(lambda: simulation.step(1), args.steps * 5)
        state = simulation.context.getState(getPositions=True)
        sub = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.angstrom))[ml_atoms]
        sub_numbers = [a.element.atomic_number for a in simulation.topology.atoms() if a.index in set(ml_atoms)]
        box = np.asarray(state.getPeriodicBoxVectors().value_in_unit(unit.angstrom))
        t_core_ml = per_call(lambda: model.compute(positions=sub, numbers=sub_numbers, cell=box, pbc=True,
                                                   committee=False), args.steps * 5)
        results["ml_mm"] = {
            "atoms": simulation.topology.getNumAtoms(),
            "ml_atoms": len(ml_atoms),
            "step_s": t_mlmm,
            "ns_per_day_at_1fs": ns_per_day(1.0, t_mlmm),
            "core_compute_of_ml_region_s": t_core_ml,
        }

    p = results["pure_nnp"]
    m = results["ml_mm"]
    print(f"pure NNP, {p['atoms']} atoms, {args.threads} thread(s), dt {args.dt} fs:")
    print(f"  core compute        {p['core_compute_s'] * 1e3:9.2f} ms")
    print(f"  OpenMM step (CPU)   {p['openmm_step_s'] * 1e3:9.2f} ms  {p['openmm_ns_per_day']:.4f} ns/day "
          f"(paired overhead over the core: step {p['plugin_overhead_step_s'] * 1e3:+.2f} ms = "
          f"{p['plugin_overhead_step_percent']:+.1f}%, evaluation {p['plugin_overhead_evaluation_s'] * 1e3:+.2f} ms)")
    print(f"  ASE VelocityVerlet  {p['ase_step_s'] * 1e3:9.2f} ms  {p['ase_ns_per_day']:.4f} ns/day "
          f"(OpenMM is {p['openmm_speedup_over_ase']:.2f}x faster)")
    print(f"  ASE, no committee   {p['ase_step_without_committee_stats_s'] * 1e3:9.2f} ms  "
          f"(NNPCalculator computes committee statistics every step)")
    print(f"ML/MM, {m['ml_atoms']} of {m['atoms']} atoms by the model, PME water, dt 1 fs:")
    print(f"  OpenMM step (CPU)   {m['step_s'] * 1e3:9.2f} ms  {m['ns_per_day_at_1fs']:.3f} ns/day "
          f"(core compute of the ML region {m['core_compute_of_ml_region_s'] * 1e3:.2f} ms)")
    out_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "openmm.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
