"""Cost of extrapolation flags in Model.compute: off, the fused path
(forward_with_extrapolation: one descriptor computation) and the separate path
(extrapolation_counts after the backward pass: what model files written before
the fused method get, and what every model got before it existed).

Models:
- cu2s-n2p2: the Cu2S potential from n2p2's examples, converted (needs ../shared/data),
  on its own 144-atom structure;
- copper-bp (first release): the bundled copper committee as first exported, before
  models kept their training range (tests/data/copper-bp-without-ranges.pt): it has no
  extrapolation method, so on and off are the same work;
- copper-bp (bundled): examples/models/copper-bp.pt, which keeps its training range,
  on a 256-atom fcc cell.

Timing: process CPU time of one compute() (energy, forces, committee statistics),
variants interleaved in each repeat, median over repeats. Prints a table and writes
bench/results/extrapolation.json.

Usage: python bench/bench_extrapolation.py [--repeat 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from extrapolation_support import export_separate  # noqa: E402  (the tests' separate-pass wrapper)

import nnpkit  # noqa: E402

COPPER = ROOT / "examples" / "models" / "copper-bp.pt"
LEGACY_COPPER = ROOT / "tests" / "data" / "copper-bp-without-ranges.pt"
CU2S = ROOT.parent / "shared" / "data" / "n2p2" / "Cu2S_PBE"


def bulk_copper():
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (4, 4, 4)
    atoms.rattle(0.05, seed=0)
    return atoms


def cases(work: pathlib.Path) -> list[tuple[str, object, dict[str, tuple[nnpkit.Model, bool]]]]:
    """(name, structure, {variant: (model, extrapolation)})."""
    out = []
    if CU2S.exists():
        from nnpkit.convert.n2p2 import convert
        from nnpkit.io import read_n2p2_data

        model = nnpkit.load(convert(str(CU2S), str(work / "cu2s.pt"), progress=lambda m: None))
        (atoms,) = read_n2p2_data(CU2S / "input.data")
        out.append(("cu2s-n2p2", atoms, {"off": (model, False), "fused": (model, True),
                                          "separate": (export_separate(model, work / "cu2s-sep.pt"), True)}))
    else:
        print(f"skipping Cu2S: {CU2S} not found")
    copper = bulk_copper()
    legacy = nnpkit.load(LEGACY_COPPER)
    out.append(("copper-bp (first release)", copper, {"off": (legacy, False), "on": (legacy, True)}))
    bundled = nnpkit.load(COPPER)
    out.append(("copper-bp (bundled)", copper, {"off": (bundled, False), "fused": (bundled, True),
                                                "separate": (export_separate(bundled, work / "copper-sep.pt"), True)}))
    return out


def measure(atoms, variants: dict, repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
        for model, extrapolation in variants.values():  # warm-up (TorchScript profiling runs)
            for _ in range(2):
                model.compute(atoms, extrapolation=extrapolation)
        for _ in range(repeat):
            for name, (model, extrapolation) in variants.items():
                t = time.process_time()
                model.compute(atoms, extrapolation=extrapolation)
                times[name].append(time.process_time() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    nnpkit.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, atoms, variants in cases(pathlib.Path(tmp)):
            medians = measure(atoms, variants, args.repeat)
            off = medians["off"]
            row = {"model": name, "atoms": len(atoms), "ms": {k: 1000 * v for k, v in medians.items()},
                   "relative_to_off": {k: v / off for k, v in medians.items()}}
            results.append(row)
            cells = "  ".join(f"{k} {1000 * v:7.2f} ms ({v / off:5.3f}x)" for k, v in medians.items())
            print(f"{name:22s} {len(atoms):4d} atoms  {cells}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "extrapolation.json").write_text(json.dumps(
        {"threads": args.threads, "repeat": args.repeat, "clock": "process CPU time, median", "results": results},
        indent=1))


if __name__ == "__main__":
    main()
