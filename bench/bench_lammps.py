"""Atom-steps per second of pair_style nnp in LAMMPS versus the Python API
(nnpkit.Model.compute: neighbour search + model + forces) on the same model and
fcc copper crystals, on 1 and 2 MPI ranks (LAMMPS) / 1 and 2 threads (Python).

Usage: python bench/bench_lammps.py [--model copper-bp.pt] [--cells 6 10 20] [--steps 5]

Without --model it uses examples/models/copper-bp.pt if present, else a
Behler-Parrinello model of the same shape with random weights (timings do not
depend on the weights). LAMMPS time is the loop time of `run N pre no` after a
warm-up step (no setup), MD with NVE; Python time is one compute() per step.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from ase.build import bulk

import nnpkit

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent


def default_model(workdir: pathlib.Path) -> str:
    bundled = ROOT / "examples" / "models" / "copper-bp.pt"
    if bundled.exists():
        return str(bundled)
    from nnpkit.models import BehlerParrinelloModel, SymmetryFunctionSet

    sf = SymmetryFunctionSet.standard(["Cu"], 5.0, n_radial=8, r_min=2.0)  # as examples/fit_copper_emt.py
    return nnpkit.export(BehlerParrinelloModel(sf, hidden=(16, 16)), workdir / "copper-random.pt")


def python_rate(model: nnpkit.Model, cells: int, steps: int, threads: int) -> float:
    nnpkit.set_num_threads(threads)
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True) * (cells, cells, cells)
    atoms.rattle(0.05, seed=1)
    model.compute(atoms)  # warm-up (TorchScript profiling runs)
    model.compute(atoms)
    start = time.perf_counter()
    for _ in range(steps):
        model.compute(atoms)
    return len(atoms) * steps / (time.perf_counter() - start)


def lammps_rate(model_path: str, cells: int, steps: int, ranks: int, workdir: pathlib.Path) -> tuple[float, float]:
    """(atom-steps/s, fraction of the loop spent in the pair style)."""
    script = f"""
units metal
atom_style atomic
lattice fcc 3.615
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 63.546
displace_atoms all random 0.05 0.05 0.05 1
pair_style nnp {model_path}
pair_coeff * * Cu
velocity all create 300 1
fix integrate all nve
timestep 0.001
thermo 1000
run 3
run {steps} pre no post yes
"""
    (workdir / "in.bench").write_text(script)
    command = [str(BIN / "lmp"), "-in", "in.bench", "-log", "none", "-nocite"]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=True).stdout
    loop = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", out)[-1]
    seconds, n_steps, n_atoms = float(loop[0]), int(loop[1]), int(loop[2])
    pair = re.findall(r"^Pair\s+\|\s*\S+\s*\|\s*(\S+)", out, re.M)[-1]
    return n_atoms * n_steps / seconds, float(pair) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--cells", type=int, nargs="+", default=[6, 10, 16], help="fcc cells per edge (4 atoms each)")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        model_path = args.model or default_model(workdir)
        model = nnpkit.load(model_path)
        print(f"model {model_path}: {model}")
        print(f"{'atoms':>7} {'python 1t':>10} {'lammps 1r':>10} {'ratio':>6} {'pair%':>6} "
              f"{'python 2t':>10} {'lammps 2r':>10} {'ratio':>6}   (atom-steps/s)")
        for cells in args.cells:
            n = 4 * cells**3
            py1 = python_rate(model, cells, args.steps, 1)
            lmp1, pair1 = lammps_rate(model_path, cells, args.steps, 1, workdir)
            py2 = python_rate(model, cells, args.steps, 2)
            lmp2, _ = lammps_rate(model_path, cells, args.steps, 2, workdir)
            print(f"{n:7d} {py1:10.0f} {lmp1:10.0f} {lmp1 / py1:6.2f} {100 * pair1:5.1f}% "
                  f"{py2:10.0f} {lmp2:10.0f} {lmp2 / py2:6.2f}", flush=True)


if __name__ == "__main__":
    main()
