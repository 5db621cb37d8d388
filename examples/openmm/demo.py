"""`make demo`'s OpenMM part: a short pure-NNP run and a short ML/MM run (demonstration model)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlmm_water  # noqa: E402
import nnp_md  # noqa: E402

if __name__ == "__main__":
    print("== OpenMM: pure-NNP water box (NNPForce) ==")
    nnp_md.main(["--steps", "40", "--report", "20"])
    print("\n== OpenMM: ML/MM, acetamide by the NNP in TIP3P water (openmm-ml) ==")
    mlmm_water.main(["--steps", "100", "--report", "50"])
