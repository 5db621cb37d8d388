"""Atom-steps per second of pair_style nnp in LAMMPS versus the Python API
(nnpkit.Model.compute: neighbour search + model + forces) on the same model and
fcc copper crystals.

Usage: python bench/bench_lammps.py [--model copper-bp.pt] [--cells 6 10] [--steps 5]

- 1 rank / 1 thread: LAMMPS runs in this process (lammps module) so both sides
  are timed in process CPU time, which a busy machine disturbs far less than
  wall time: `run N pre no post no` (MD with NVE) against N compute() calls.
- 2 MPI ranks: LAMMPS' loop time (wall) against the Python API on 2 threads.
- Plugin overhead: the same with a trivial pair model (one exp per edge), whose
  cost is the adapter's and the runner's own work, set against the real model.

Without --model it uses examples/models/copper-bp.pt if present, else a
Behler-Parrinello model of the same shape with random weights.
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

import torch
from ase.build import bulk

import nnpkit

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))


class PairExponential(torch.nn.Module):
    """The cheapest model there is: E_i = sum_j exp(-r_ij) over edges."""

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor,
                n_local: int) -> torch.Tensor:
        r = torch.sqrt((edge_vectors * edge_vectors).sum(1))
        return torch.zeros(species.shape[0], dtype=edge_vectors.dtype).index_add(0, edge_index[0], torch.exp(-r))


def default_model(workdir: pathlib.Path) -> str:
    bundled = ROOT / "examples" / "models" / "copper-bp.pt"
    if bundled.exists():
        return str(bundled)
    from nnpkit.models import BehlerParrinelloModel, SymmetryFunctionSet

    sf = SymmetryFunctionSet.standard(["Cu"], 5.0, n_radial=8, r_min=2.0)  # shape of a small copper model
    return nnpkit.export(BehlerParrinelloModel(sf, hidden=(16, 16)), workdir / "copper-random.pt")


def crystal(cells: int):
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True) * (cells, cells, cells)
    atoms.rattle(0.05, seed=1)
    return atoms


def python_rate(model: nnpkit.Model, cells: int, steps: int, threads: int, clock) -> float:
    nnpkit.set_num_threads(threads)
    atoms = crystal(cells)
    # the work pair_style nnp does each step: energy, forces, virial; no committee
    # statistics (one backward pass per member) and no extrapolation check
    work = dict(committee_statistics=False, extrapolation=False)
    model.compute(atoms, **work)  # warm-up (TorchScript profiling runs)
    model.compute(atoms, **work)
    start = clock()
    for _ in range(steps):
        model.compute(atoms, **work)
    return len(atoms) * steps / (clock() - start)


def lammps_script(model_path: str, cells: int) -> str:
    return f"""
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
"""


def lammps_rate_in_process(model_path: str, cells: int, steps: int) -> float:
    from lammps_support import lammps_instance

    os.environ["OMP_NUM_THREADS"] = "1"
    lmp = lammps_instance()
    try:
        lmp.commands_string(lammps_script(model_path, cells))
        start = time.process_time()
        lmp.command(f"run {steps} pre no post no")
        return lmp.get_natoms() * steps / (time.process_time() - start)
    finally:
        lmp.close()


def lammps_rate_mpi(model_path: str, cells: int, steps: int, ranks: int, workdir: pathlib.Path) -> float:
    (workdir / "in.bench").write_text(lammps_script(model_path, cells) + f"run {steps} pre no\n")
    command = [str(BIN / "mpirun"), "-np", str(ranks), str(BIN / "lmp"), "-in", "in.bench", "-log", "none"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=True).stdout
    seconds, n_steps, n_atoms = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", out)[-1]
    return int(n_atoms) * int(n_steps) / float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--cells", type=int, nargs="+", default=[6, 10], help="fcc cells per edge (4 atoms each)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-mpi", action="store_true", help="skip the 2-rank runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        model_path = args.model or default_model(workdir)
        trivial_path = nnpkit.export(PairExponential(), workdir / "trivial.pt", species=["Cu"], cutoff=5.0)
        model, trivial = nnpkit.load(model_path), nnpkit.load(trivial_path)
        print(f"model: {model}")
        print("atom-steps/s; 1 rank/thread in CPU time, 2 ranks/threads in wall time")
        print(f"{'atoms':>7} {'python 1t':>10} {'lammps 1r':>10} {'ratio':>6} | {'python 2t':>10} {'lammps 2r':>10} "
              f"{'ratio':>6} | trivial model: {'python':>8} {'lammps':>8}  plugin overhead")
        for cells in args.cells:
            n = 4 * cells**3
            py1 = python_rate(model, cells, args.steps, 1, time.process_time)
            lmp1 = lammps_rate_in_process(model_path, cells, args.steps)
            if args.no_mpi:
                py2 = lmp2 = float("nan")
            else:
                py2 = python_rate(model, cells, args.steps, 2, time.perf_counter)
                lmp2 = lammps_rate_mpi(model_path, cells, args.steps, 2, workdir)
            tpy = python_rate(trivial, cells, args.steps, 1, time.process_time)
            tlmp = lammps_rate_in_process(trivial_path, cells, args.steps)
            overhead = (1 / tlmp) / (1 / lmp1)  # adapter + runner time per atom-step / total
            print(f"{n:7d} {py1:10.0f} {lmp1:10.0f} {lmp1 / py1:6.2f} | {py2:10.0f} {lmp2:10.0f} {lmp2 / py2:6.2f} | "
                  f"{tpy:22.0f} {tlmp:8.0f}  {100 * overhead:.1f}% of the step", flush=True)


if __name__ == "__main__":
    main()
