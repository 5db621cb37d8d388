"""ANI-2x energy and forces: nnpkit versus TorchANI 2.9, side by side in one run.

Both read the same NeuroChem files and run in this process with the same precision
and thread count, neighbour search included:

- periodic water boxes (default 1k and 5k atoms), float64 and float32, 1 and 2
  threads: atoms per second of energy + forces, and the ratio to TorchANI's faster
  configuration (its cell list with the standard ensemble, or its inference-optimised
  batched ensemble ``to_infer_model``, scripted);
- committee statistics (member energies and forces, their deviation) against the
  mean-only evaluation, same boxes;
- small molecules (ethanol, benzene, acetamide, benzonitrile; 9-13 atoms), 1 thread:
  latency per energy + forces call, the cost ML/MM pays every step.

Every configuration is timed in interleaved rounds after a warm-up: each round runs
every contender for a few calls in a row, as an MD loop calls it (three for boxes up
to 2k atoms, two above, five for the molecules), and records their mean; figures are
medians with the range (min-max) over rounds. (A single call right after another
contender's measures that contender's cache and allocator leftovers as well.) Each
round takes the contenders in another order (a seeded shuffle), so that none of
them always follows the same other one.
The machine's load average is printed with each block: on a shared machine read
the figures next to it.

    python bench/bench_ani.py [--sizes [1000 5000 ...]] [--threads 1 2] [--rounds 5]
                              [--dtypes float64 float32] [--no-molecules] [--info FILE]

Needs the ANI-2x NeuroChem files (../shared/data/ani-model-zoo beside the repository,
or --info pointing at ani-2x_8x.info).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
from typing import Callable, Sequence

import numpy as np
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from ani_reference import water_box  # noqa: E402  (the tests' water boxes)

DEFAULT_INFO = REPO.parent / "shared" / "data" / "ani-model-zoo" / "resources" / "ani-2x_8x.info"


def load_average() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, calls: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each contender over ``rounds`` rounds; one warm-up call each
    (TorchScript profiling runs, allocator) and every round runs all contenders, so that
    a burst of load on the shared machine hits all of them alike; each round takes
    them in another order (seeded). Each round times ``calls`` consecutive calls of a
    contender (as an MD loop makes them) and records their mean."""
    for fn in contenders.values():
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    order = random.Random(12345)
    for _ in range(rounds):
        # A new order each round: the first call of a contender's turn finds the
        # caches as the one before left them, and in a fixed order (or a rotation
        # of it) the same contender always followed TorchANI and paid for the
        # weights TorchANI had evicted from the cache.
        order.shuffle(names)
        for name in names:
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def median(times: Sequence[float]) -> float:
    return statistics.median(times)


def spread(times: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """``median [min-max]`` of ``times`` times ``scale``."""
    return f"{median(times) * scale:.{digits}f} [{min(times) * scale:.{digits}f}-{max(times) * scale:.{digits}f}]"


def torchani_runner(model, atoms, dtype: torch.dtype) -> Callable[[], tuple[float, torch.Tensor]]:
    """Energy and forces as a TorchANI user computes them (autograd to the positions)."""
    species = torch.tensor(atoms.get_atomic_numbers(), dtype=torch.int64).unsqueeze(0)
    positions = torch.tensor(atoms.get_positions(), dtype=dtype).unsqueeze(0)
    kwargs = {}
    if atoms.pbc.any():
        kwargs = {"cell": torch.tensor(atoms.cell.array, dtype=dtype), "pbc": torch.tensor(atoms.pbc)}

    def run() -> tuple[float, torch.Tensor]:
        x = positions.clone().requires_grad_(True)
        energy = model((species, x), **kwargs).energies.sum()
        forces = -torch.autograd.grad(energy, x)[0]
        return energy.item(), forces

    return run


def contenders_for(model, reference, infer, atoms, dtype: torch.dtype) -> dict[str, Callable[[], object]]:
    """nnpkit mean-only and with committee statistics, TorchANI standard and inference-optimised."""
    return {
        "nnpkit": lambda: model.compute(atoms, committee_statistics=False, extrapolation=False),
        "committee": lambda: model.compute(atoms, committee_statistics=True, extrapolation=False),
        "torchani": torchani_runner(reference, atoms, dtype),
        "infer": torchani_runner(infer, atoms, dtype),
    }


def benzonitrile():
    """Benzonitrile (13 atoms): benzene with one H replaced by a nitrile group."""
    from ase import Atoms
    from ase.build import molecule

    benzene = molecule("C6H6")
    ring_carbon, hydrogen = benzene.positions[0], benzene.positions[6]
    axis = (hydrogen - ring_carbon) / np.linalg.norm(hydrogen - ring_carbon)
    keep = [i for i in range(len(benzene)) if i != 6]
    symbols = [benzene.get_chemical_symbols()[i] for i in keep] + ["C", "N"]
    positions = np.vstack([benzene.positions[keep], ring_carbon + 1.44 * axis, ring_carbon + 2.60 * axis])
    return Atoms(symbols, positions=positions)


def molecules() -> dict:
    from ase.build import molecule

    return {
        "ethanol": molecule("CH3CH2OH"),
        "benzene": molecule("C6H6"),
        "acetamide": molecule("CH3CONH2"),
        "benzonitrile": benzonitrile(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 5000], help="water boxes (none: molecules only)")
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (fewer for boxes above 2k atoms)")
    parser.add_argument("--no-molecules", action="store_true", help="skip the small-molecule latencies")
    parser.add_argument("--info", default=str(DEFAULT_INFO))
    args = parser.parse_args()
    if not os.path.exists(args.info):
        print(f"ANI-2x NeuroChem files not found at {args.info} (pass --info)", file=sys.stderr)
        return 1

    os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")
    import nnpkit
    from nnpkit.convert.ani import convert_neurochem

    info = pathlib.Path(args.info).resolve()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="bench-ani-"))
    # TorchANI looks for NeuroChem files under $TORCHANI_DATA_DIR/Neurochem.
    (workdir / "Neurochem").symlink_to(info.parent, target_is_directory=True)
    os.environ["TORCHANI_DATA_DIR"] = str(workdir)
    import torchani

    hartree = nnpkit._core.energy_unit_in_ev("Hartree")
    print(f"torch {torch.__version__}, torchani {torchani.__version__}, ANI-2x (8 members); {load_average()}")
    models = {}
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        model = nnpkit.load(convert_neurochem(info, workdir / f"ani2x-{dtype_name}.pt", dtype=dtype))
        reference = torchani.neurochem.load_model_from_info_file(info).to(dtype)
        reference.neighborlist = torchani.neighbors.CellList()
        infer = torchani.neurochem.load_model_from_info_file(info).to(dtype)
        infer.neighborlist = torchani.neighbors.CellList()
        infer = torch.jit.script(infer.to_infer_model())  # BmmEnsemble calls CUDA markers unless scripted
        models[dtype_name] = (dtype, model, reference, infer)

    print("\nWater boxes, energy + forces: seconds per call, median [min-max]; atoms/s and ratio from medians")
    header = (
        f"{'atoms':>6} {'dtype':>7} {'thr':>3} | {'nnpkit s':>21} {'atoms/s':>8} | {'TorchANI s':>21} "
        f"{'TA infer s':>21} | {'vs TA':>6} | {'+committee s':>21} {'cost':>5} | {'max|dF| Ha/A':>12}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        atoms = water_box(size)
        n = len(atoms)
        rounds = args.rounds if n <= 2000 else max(2, args.rounds // 2)
        calls = 3 if n <= 2000 else 2
        for dtype_name, (dtype, model, reference, infer) in models.items():
            for threads in args.threads:
                torch.set_num_threads(threads)
                contenders = contenders_for(model, reference, infer, atoms, dtype)
                t = interleaved(contenders, rounds, calls)
                ours = model.compute(atoms, committee_statistics=False, extrapolation=False)
                _, ref_forces = contenders["torchani"]()
                d_forces = np.abs(ours["forces"] / hartree - ref_forces[0].detach().double().numpy()).max()
                best = min(median(t["torchani"]), median(t["infer"]))
                mean_only = median(t["nnpkit"])
                print(
                    f"{n:>6} {dtype_name:>7} {threads:>3} | {spread(t['nnpkit']):>21} {n / mean_only:>8.0f} | "
                    f"{spread(t['torchani']):>21} {spread(t['infer']):>21} | {best / mean_only:>5.1f}x | "
                    f"{spread(t['committee']):>21} {median(t['committee']) / mean_only:>4.2f}x | {d_forces:>12.1e}"
                )
                sys.stdout.flush()
        print(f"  ({load_average()})")

    if not args.no_molecules:
        torch.set_num_threads(1)
        print("\nSmall molecules, 1 thread, energy + forces: milliseconds per call, median [min-max]")
        header = (
            f"{'molecule':>12} {'atoms':>5} {'dtype':>7} | {'nnpkit ms':>20} {'+committee ms':>20} | "
            f"{'TorchANI ms':>20} {'TA infer ms':>20} | {'latency vs TA':>13}"
        )
        print(header)
        print("-" * len(header))
        for name, atoms in molecules().items():
            for dtype_name, (dtype, model, reference, infer) in models.items():
                contenders = contenders_for(model, reference, infer, atoms, dtype)
                t = interleaved(contenders, 2 * args.rounds, calls=5)
                best = min(median(t["torchani"]), median(t["infer"]))
                print(
                    f"{name:>12} {len(atoms):>5} {dtype_name:>7} | {spread(t['nnpkit'], 1e3, 2):>20} "
                    f"{spread(t['committee'], 1e3, 2):>20} | {spread(t['torchani'], 1e3, 2):>20} "
                    f"{spread(t['infer'], 1e3, 2):>20} | {median(t['nnpkit']) / best:>12.2f}x"
                )
                sys.stdout.flush()
        print(f"  ({load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
