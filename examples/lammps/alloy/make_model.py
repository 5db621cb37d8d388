"""Writes cuni-committee.pt: a small Behler-Parrinello committee (4 members) for
Cu and Ni, to demonstrate the LAMMPS input syntax of in.alloy.

Its networks are NOT trained (small random weights on top of per-element energy
offsets, and no repulsion of its own): the numbers it gives are not physics.
in.alloy adds ZBL (pair_style hybrid/overlay) for close contacts, and the model
refuses pairs closer than its min_distance of 1.0 Angstrom. Replace it with your
own model (see README.md for exporting one) for real work.

Usage: python make_model.py [-o cuni-committee.pt]
"""

from __future__ import annotations

import argparse

import torch

import nnpkit
from nnpkit.models import BehlerParrinelloModel, SymmetryFunctionSet

#: Angstrom: pairs closer than this stop the run (the lattice spacing of in.alloy is 2.5 Angstrom).
MIN_DISTANCE = 1.0


def make_model(seed: int = 0) -> BehlerParrinelloModel:
    sf = SymmetryFunctionSet.standard(["Cu", "Ni"], cutoff=4.5, n_radial=4)
    model = BehlerParrinelloModel(sf, hidden=(10, 10), committee_size=4)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.networks.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        model.energy_offset.copy_(torch.tensor([-3.5, -4.4], dtype=torch.float64))
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="cuni-committee.pt")
    args = parser.parse_args()
    print("wrote", nnpkit.export(make_model(), args.output, min_distance=MIN_DISTANCE,
                                 min_distance_source="chosen for this demonstration model"))
