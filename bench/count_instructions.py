"""Instructions per steady energy + forces call, counted by valgrind's callgrind.

On a shared host a call's time moves by 20-50% with the neighbours' load, more than
most single changes to the kernels; the number of instructions a call executes does
not. This script converts ANI-2x from the NeuroChem files (or takes a model file),
warms the model up, and has callgrind count only the steady calls (instrumentation is
switched on after the warm-up with ``callgrind_control``), then prints the
instructions per call and the functions that execute most of them.

    python bench/count_instructions.py [--molecule CH3CONH2] [--dtype float32]
                                       [--model FILE] [--calls 10] [--top 12]

Counts say nothing about memory stalls: a change that moves bytes (weights read from
L3 instead of L2) shows in time only. Read them beside ``bench_ani.py``'s ratios.
Needs valgrind (``callgrind_control`` and ``callgrind_annotate`` on the PATH).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_INFO = REPO.parent / "shared" / "data" / "ani-model-zoo" / "resources" / "ani-2x_8x.info"


def run_calls(model_path: str, molecule_name: str, calls: int) -> None:
    """The child run under valgrind: warm up, then count ``calls`` steady calls."""
    import torch

    import nnpkit
    from ase.build import molecule

    torch.set_num_threads(1)
    model = nnpkit.load(model_path)
    atoms = molecule(molecule_name)
    for _ in range(3):  # caches of layouts and weight copies, TorchScript's profiling runs
        model.compute(atoms, committee_statistics=False, extrapolation=False)
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    for _ in range(calls):
        model.compute(atoms, committee_statistics=False, extrapolation=False)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecule", default="CH3CONH2", help="an ase.build.molecule name")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--model", help="a model file (default: ANI-2x converted from --info)")
    parser.add_argument("--info", type=pathlib.Path, default=DEFAULT_INFO)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--top", type=int, default=12, help="functions to list")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_calls(args.model, args.molecule, args.calls)
        return
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"count_instructions: {tool} is not on the PATH (install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            if not args.info.exists():
                sys.exit(f"count_instructions: no ANI-2x files at {args.info} (pass --info or --model)")
            import torch

            from nnpkit.convert.ani import convert_neurochem

            model_path = str(pathlib.Path(tmp) / f"ani2x-{args.dtype}.pt")
            convert_neurochem(args.info, model_path, dtype=getattr(torch, args.dtype))
        out = pathlib.Path(tmp) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, __file__, "--child", "--model", model_path, "--molecule", args.molecule,
                   "--calls", str(args.calls)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            sys.exit(f"count_instructions: the run under valgrind failed:\n{done.stderr[-2000:]}")
        collected = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
        if collected is None:
            sys.exit("count_instructions: valgrind reported no instruction count")
        total = int(collected.group(1))
        print(f"{args.molecule}, {args.dtype}: {total / args.calls / 1e6:.2f}M instructions per call "
              f"({args.calls} steady calls)")
        listing = subprocess.run(["callgrind_annotate", "--inclusive=no", str(out)], capture_output=True, text=True)
        rows = [line for line in listing.stdout.splitlines() if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", line)]
        for line in rows[1 : 1 + args.top]:  # the first row is the program total
            count, rest = line.split("(", 1)
            share, name = rest.split(")", 1)
            name = re.sub(r"^\s*[^:]*:", "", name.strip())  # the source file, where known
            name = re.sub(r"\s*\[[^\]]*\]$", "", name)  # the library
            print(f"  {int(count.replace(',', '')) / args.calls / 1e6:7.3f}M {share.strip():>7}  {name[:110]}")


if __name__ == "__main__":
    main()
