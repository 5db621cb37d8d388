"""ANI-2x energy and forces on periodic water boxes: nnpkit versus TorchANI 2.9.

Both run in this process with the same precision and thread count, neighbour
search included. TorchANI uses its linear-scaling cell list (its default
all-pairs list needs O(N^2) memory) and, as a second configuration, its
inference-optimised batched ensemble (``to_infer_model``); the ratio is taken
against the faster of the two. nnpkit is timed as engines call it by default
for the mean energy and forces (one backward pass) and, separately, with
per-member committee statistics (one backward pass per member).

    python bench/bench_ani.py [--sizes 1000 5000 20000] [--threads 2] [--repeats 5]

Times are the best of several runs (fewer for large boxes) after a warm-up.

Needs ../shared/data/ani-model-zoo (or --info pointing at ani-2x_8x.info).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

import numpy as np
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from ani_reference import water_box  # noqa: E402  (the tests' water boxes)
DEFAULT_INFO = REPO.parent / "shared" / "data" / "ani-model-zoo" / "resources" / "ani-2x_8x.info"


def timed(fn, repeats: int) -> float:
    """Best of ``repeats`` runs after a warm-up: on a shared machine the minimum is the
    time the code needs, the rest is other processes."""
    fn()  # warm-up (TorchScript profiling runs, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def torchani_runner(model, atoms, dtype):
    species = torch.tensor(atoms.get_atomic_numbers(), dtype=torch.int64).unsqueeze(0)
    positions = torch.tensor(atoms.get_positions(), dtype=dtype).unsqueeze(0)
    cell = torch.tensor(atoms.cell.array, dtype=dtype)
    pbc = torch.tensor([True, True, True])

    def run():
        x = positions.clone().requires_grad_(True)
        energy = model((species, x), cell=cell, pbc=pbc).energies.sum()
        forces = -torch.autograd.grad(energy, x)[0]
        return energy.item(), forces

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--info", default=str(DEFAULT_INFO))
    parser.add_argument("--skip-torchani-above", type=int, default=10**9, help="atoms above which TorchANI is skipped")
    args = parser.parse_args()
    if not os.path.exists(args.info):
        print(f"ANI-2x NeuroChem files not found at {args.info} (pass --info)", file=sys.stderr)
        return 1

    torch.set_num_threads(args.threads)
    os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")
    import nnpkit
    from nnpkit.convert.ani import convert_neurochem

    info = pathlib.Path(args.info).resolve()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="bench-ani-"))
    # TorchANI looks for NeuroChem files under $TORCHANI_DATA_DIR/Neurochem.
    (workdir / "Neurochem").symlink_to(info.parent, target_is_directory=True)
    os.environ["TORCHANI_DATA_DIR"] = str(workdir)
    import torchani

    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}, torchani {torchani.__version__}")
    header = (
        f"{'atoms':>6} {'dtype':>7} | {'nnpkit s':>9} {'+committee':>10} | {'torchani s':>10} {'ta infer':>9} | "
        f"{'speed-up':>8} {'atoms/s':>9} | {'|dE| Ha':>8} {'max|dF|':>8}"
    )
    print(header)
    print("-" * len(header))
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        path = convert_neurochem(info, workdir / f"ani2x-{dtype_name}.pt", dtype=dtype)
        model = nnpkit.load(path)
        reference = torchani.neurochem.load_model_from_info_file(info).to(dtype)
        reference.neighborlist = torchani.neighbors.CellList()
        infer = torchani.neurochem.load_model_from_info_file(info).to(dtype)
        infer.neighborlist = torchani.neighbors.CellList()
        # BmmEnsemble calls CUDA profiling markers unless scripted.
        infer = torch.jit.script(infer.to_infer_model())
        hartree = nnpkit._core.energy_unit_in_ev("Hartree")
        for size in args.sizes:
            atoms = water_box(size)
            n = len(atoms)
            repeats = max(2, args.repeats * 1000 // max(n, 1000))  # fewer repeats for large boxes
            t_nnpkit = timed(lambda: model.compute(atoms, committee=False), repeats)
            t_committee = timed(lambda: model.compute(atoms, committee=True), repeats)
            result = model.compute(atoms, committee=False)
            if n > args.skip_torchani_above:
                print(f"{n:>6} {dtype_name:>7} | {t_nnpkit:>9.3f} {t_committee:>10.3f} | {'-':>10} {'-':>9} |")
                continue
            run_ref, run_infer = torchani_runner(reference, atoms, dtype), torchani_runner(infer, atoms, dtype)
            t_ref = timed(run_ref, repeats)
            t_infer = timed(run_infer, repeats)
            energy, forces = run_ref()
            d_energy = abs(result["energy"] / hartree - energy)
            d_forces = np.abs(result["forces"] / hartree - forces[0].detach().double().numpy()).max()
            best = min(t_ref, t_infer)
            print(
                f"{n:>6} {dtype_name:>7} | {t_nnpkit:>9.3f} {t_committee:>10.3f} | {t_ref:>10.3f} {t_infer:>9.3f} | "
                f"{best / t_nnpkit:>7.1f}x {n / t_nnpkit:>9.0f} | {d_energy:>8.1e} {d_forces:>8.1e}"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
