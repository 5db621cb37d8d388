"""Throughput of the inference core versus system size.

Measures, for periodic fcc copper supercells of about 1k to 100k atoms:
- the neighbour search alone (C++ cell list),
- energy + forces of a Behler-Parrinello model (the bundled copper model by
  default) through nnpkit.Model.compute, on 1 and 2 threads,
and the peak memory per atom (each size runs in its own process, so the
peak resident set is that size's). Prints a table and writes bench/results/core.json.

Usage: python bench/bench_core.py [--sizes 1000 4000 ...] [--model PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "examples" / "models" / "copper-bp.pt"


def supercell(n_target: int):
    from ase.build import bulk

    reps = max(1, round((n_target / 4) ** (1 / 3)))
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (reps, reps, reps)
    atoms.rattle(0.05, seed=0)
    return atoms


def measure(n_target: int, model_path: str, threads: int, repeat: int) -> dict:
    import nnpkit
    from nnpkit import _core

    nnpkit.set_num_threads(threads)
    model = nnpkit.load(model_path)
    atoms = supercell(n_target)
    n = len(atoms)
    args = (atoms.positions, atoms.cell.array, [True] * 3, model.cutoff)
    _core.neighbor_list(*args)
    t = time.perf_counter()
    for _ in range(repeat):
        edge_index, _, _ = _core.neighbor_list(*args)
    t_nl = (time.perf_counter() - t) / repeat
    model.compute(atoms, committee_statistics=False)  # warm-up (TorchScript profiling runs)
    t = time.perf_counter()
    for _ in range(repeat):
        model.compute(atoms, committee_statistics=False)
    t_ef = (time.perf_counter() - t) / repeat
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "atoms": n,
        "threads": threads,
        "edges_per_atom": edge_index.shape[1] / n,
        "neighbor_search_s": t_nl,
        "neighbor_atoms_per_s": n / t_nl,
        "energy_forces_s": t_ef,
        "atom_steps_per_s": n / t_ef,
        "peak_rss_kib_per_atom": peak_kib / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 32000, 100000])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)  # child process: size threads
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.model, args.one[1], args.repeat)))
        return
    rows = []
    print(f"model: {args.model}")
    print(f"{'atoms':>7} {'thr':>3} {'edges/atom':>10} {'NL atoms/s':>12} {'E+F atom-steps/s':>17} {'s/step':>8} "
          f"{'KiB/atom':>9}")
    for threads in args.threads:
        for size in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--model", args.model, "--repeat", str(args.repeat),
                                  "--one", str(size), str(threads)], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{row['atoms']:7d} {threads:3d} {row['edges_per_atom']:10.1f} {row['neighbor_atoms_per_s']:12.3g} "
                  f"{row['atom_steps_per_s']:17.0f} {row['energy_forces_s']:8.3f} {row['peak_rss_kib_per_atom']:9.1f}",
                  flush=True)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "core.json").write_text(json.dumps({"model": os.path.basename(args.model), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
