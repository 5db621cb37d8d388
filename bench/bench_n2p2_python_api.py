"""nnpkit's Python API against pair_style nnp on the same n2p2 potentials and structures.

Issue 11's second promise: `Model.compute` (neighbour search included) within 10% of
LAMMPS' Pair time per atom. Interleaved, one thread each: for every repeat and
system, one LAMMPS run of pair_style nnp (n2p2's example input, as in
bench_n2p2_lammps.py) and then `Model.compute` on the structure LAMMPS starts from.

usage: python bench/bench_n2p2_python_api.py [--work DIR] [--systems h2o,cu2s,ethylbenzene] [--repeats 3]

Needs the work folder of bench_n2p2_lammps.py (it builds it); skips with a message when
../shared is absent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(os.path.dirname(ROOT), "shared", "tools", "n2p2-lammps")
Z_OF_TYPE = {"h2o": {1: 1, 2: 8}, "cu2s": {1: 16, 2: 29}, "ethylbenzene": {1: 1, 2: 6}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "results", "n2p2-lammps"))
    ap.add_argument("--systems", default="h2o,cu2s,ethylbenzene")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if not os.path.isdir(TOOLS):
        print(f"skipped: {TOOLS} is absent (the run scripts live in ../shared)")
        return 0
    if not os.path.isdir(os.path.join(a.work, "models")):
        print(f"skipped: {a.work} has no converted models: run bench/bench_n2p2_lammps.py first")
        return 0
    os.environ["OMP_NUM_THREADS"] = "1"
    sys.path.insert(0, TOOLS)
    import ase.io
    import torch

    import nnpkit
    import run_bench  # ../shared/tools/n2p2-lammps: inputs, data files, LAMMPS runner

    torch.set_num_threads(1)
    nnpkit.set_num_threads(1)
    env = run_bench.Env(ROOT, os.path.abspath(a.work), os.path.join(ROOT, ".venv"))
    systems = a.systems.split(",")
    structures, models = {}, {}
    for system in systems:
        rep = run_bench.SPEED_CASES[system][0]
        atoms = ase.io.read(env.data_file(system), format="lammps-data", atom_style="atomic",
                            Z_of_type=Z_OF_TYPE[system])
        atoms.pbc = True
        structures[system] = atoms * rep
        models[system] = nnpkit.load(os.path.join(env.models, run_bench.SYSTEMS[system]["model"]))
        models[system].compute(structures[system])  # warm-up
    lammps: dict[str, list[float]] = {s: [] for s in systems}
    python: dict[str, list[float]] = {s: [] for s in systems}
    for k in range(a.repeats):
        for system in systems:
            rep, n1, _ = run_bench.SPEED_CASES[system]
            s = run_bench.SYSTEMS[system]
            cwd = os.path.join(env.runs, "python-api", system, f"nnp_{k}")
            pv, pair = env.pair_vars(system, "nnp")
            args = pv + ["-var", "data", env.data_file(system), "-var", "nx", str(rep[0]), "-var", "ny", str(rep[1]),
                         "-var", "nz", str(rep[2]), "-var", "m1", str(s["m"][0]), "-var", "m2", str(s["m"][1]),
                         "-var", "dt", str(s["dt"]), "-var", "nsteps", str(n1), "-var", "pair", pair,
                         "-in", os.path.join(run_bench.INPUTS, "bench.lmp")]
            r = run_bench.run_lmp(env, args, cwd, os.path.join(cwd, "log.lammps"), np_=1)
            lammps[system].append(r["pair_per_step_s"])
            times = []
            for _ in range(3):
                t = time.perf_counter()
                models[system].compute(structures[system], extrapolation=True)
                times.append(time.perf_counter() - t)
            python[system].append(statistics.median(times))
            print(f"[{k}] {system}: LAMMPS Pair {lammps[system][-1]:.4f} s/step, Model.compute "
                  f"{python[system][-1]:.4f} s, load {os.getloadavg()[0]:.2f}", flush=True)
    print("\n| system | atoms | LAMMPS Pair s/step | Model.compute s | compute / Pair (per pair of runs) |")
    print("|---|---|---|---|---|")
    for system in systems:
        ratios = [p / l for p, l in zip(python[system], lammps[system])]
        print(f"| {system} | {len(structures[system])} | {statistics.median(lammps[system]):.4f} "
              f"[{min(lammps[system]):.4f}-{max(lammps[system]):.4f}] | {statistics.median(python[system]):.4f} "
              f"[{min(python[system]):.4f}-{max(python[system]):.4f}] | {statistics.median(ratios):.3f} "
              f"[{min(ratios):.3f}-{max(ratios):.3f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
