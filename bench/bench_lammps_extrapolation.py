"""Cost of extrapolation warnings in LAMMPS (pair_style nnp ... showewsum N maxew N):
the Cu2S potential from n2p2's examples, converted (needs ../shared/data), on its own
144-atom structure replicated 2x2x1 (576 atoms), NVE at 300 K, one rank, one thread.

Variants, each in its own in-process LAMMPS, runs interleaved: no keywords (the runner
is not asked for counts) and `showewsum 10 maxew 1000000000` (counts every step, an
MPI_Allreduce, a summary every 10 steps). Reported: process CPU time of `run N`
(median over repeats; CPU time, not wall time, because the development machine is
shared). Writes bench/results/lammps_extrapolation.json.

Usage: python bench/bench_lammps_extrapolation.py [--steps 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from lammps_support import lammps_instance, lower_triangular, write_data  # noqa: E402

import nnpkit  # noqa: E402

VARIANTS = {"off": "", "showewsum 10 maxew 1e9": "showewsum 10 maxew 1000000000"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from nnpkit.convert.n2p2 import convert
    from nnpkit.io import read_n2p2_data

    directory = ROOT.parent / "shared" / "data" / "n2p2" / "Cu2S_PBE"
    if not directory.is_dir():
        sys.exit(f"needs the n2p2 Cu2S example in {directory}")
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        model = nnpkit.load(convert(str(directory), str(work / "cu2s.pt"), progress=lambda *a, **k: None))
        atoms = lower_triangular(read_n2p2_data(directory / "input.data")[0] * (2, 2, 1))
        write_data(atoms, work / "s.data", model.species)
        instances = {}
        for name, keywords in VARIANTS.items():
            instances[name] = lammps_instance()
            instances[name].commands_string(f"""
units metal
atom_style atomic
read_data {work / 's.data'}
pair_style nnp {model.path} {keywords} threads 1
pair_coeff * * {' '.join(model.species)}
velocity all create 300 7 mom yes rot yes
fix integrate all nve
timestep 0.001
thermo {args.steps}
run 1
""")
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.repeat):
            for name, lmp in instances.items():
                start = time.process_time()
                lmp.command(f"run {args.steps} pre no post no")
                times[name].append(time.process_time() - start)
        for lmp in instances.values():
            lmp.close()
    medians = {name: statistics.median(t) for name, t in times.items()}
    off = medians["off"]
    print(f"{len(atoms)} atoms, {args.steps} steps, CPU time of the run (median of {args.repeat}):")
    for name, seconds in medians.items():
        print(f"  {name:26s} {seconds:8.3f} s  ({seconds / off:5.3f} x off)")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "lammps_extrapolation.json").write_text(json.dumps(
        {"atoms": len(atoms), "steps": args.steps, "pair_seconds": times, "median": medians}, indent=2))


if __name__ == "__main__":
    main()
