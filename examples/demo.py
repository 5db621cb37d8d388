"""`make demo`: the main job of nnpkit on this machine, engine by engine."""

import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent


def section(title: str, script: pathlib.Path, *args: str) -> None:
    print(f"\n=== {title} ===", flush=True)
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    section("ASE: NVE molecular dynamics of copper with the bundled model", HERE / "ase" / "nve_copper.py")
