"""Grouped symmetry-function kernel against the reference driver on a converted
n2p2 model: largest differences of G and of the VJP, and time of each.

usage: sf_kernel_check.py MODEL.pt STRUCTURE [--format F|n2p2] [--z-of-type 1:1,2:8] [--repeat N] [--threads T]
"""
import argparse
import time

import ase.data
import ase.io
import ase.units
import numpy as np
import torch

import nnpkit
from nnpkit import _core


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("structure")
    ap.add_argument("--format", default=None)
    ap.add_argument("--z-of-type", default=None, help="lammps-data: e.g. 1:1,2:8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="float64")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    kw = {}
    if a.z_of_type:
        kw = dict(atom_style="atomic", Z_of_type={int(k): int(v) for k, v in (p.split(":") for p in a.z_of_type.split(","))})
    if a.format == "n2p2":
        from nnpkit.io import read_n2p2_data
        atoms = read_n2p2_data(a.structure)[0]
    else:
        atoms = ase.io.read(a.structure, format=a.format, **kw)
    model = nnpkit.load(a.model)
    module = torch.jit.load(a.model)
    sf = module.descriptor
    conv = float(module.conv_length)  # n2p2 models: normalised length units
    length = ase.units.Bohr if model.metadata["length_unit"] == "Bohr" else 1.0  # model length unit in Angstrom
    edge_index, _, vectors = _core.neighbor_list(np.ascontiguousarray(atoms.positions) / length,
                                                 atoms.cell.array / length, list(atoms.pbc), float(model.metadata["cutoff"]))
    dtype = getattr(torch, a.dtype)
    ev = torch.from_numpy(vectors).to(dtype) * conv
    ei = torch.from_numpy(edge_index)
    z = atoms.numbers
    species = torch.tensor([model.species.index(ase.data.chemical_symbols[n]) for n in z])
    n = len(atoms)
    args = (ev, ei, species, sf.sf_int, sf.sf_real, n, sf.n_columns)
    seed = torch.randn(n, sf.n_columns, dtype=dtype)
    ops = torch.ops.nnpkit
    times = {"grouped forward": [], "reference forward": [], "grouped vjp": [], "reference vjp": []}
    for _ in range(a.repeat):
        t = time.perf_counter(); g_new = ops.symmetry_functions(*args); times["grouped forward"].append(time.perf_counter() - t)
        t = time.perf_counter(); g_ref = ops.symmetry_functions_reference(*args, 0, seed); times["reference forward"].append(time.perf_counter() - t)
        evg = ev.clone().requires_grad_(True)
        out = ops.symmetry_functions(evg, *args[1:])
        t = time.perf_counter(); (v_new,) = torch.autograd.grad(out, evg, seed); times["grouped vjp"].append(time.perf_counter() - t)
        t = time.perf_counter(); v_ref = ops.symmetry_functions_reference(*args, 1, seed); times["reference vjp"].append(time.perf_counter() - t)
    scale_g = g_ref.abs().max().item()
    scale_v = v_ref.abs().max().item()
    print(f"{n} atoms, {ei.shape[1]} edges, {sf.n_columns} columns, {a.dtype}, {a.threads} thread(s)")
    print(f"G:   max |new - ref| = {(g_new - g_ref).abs().max().item():.3e} (max |G| {scale_g:.3e})")
    print(f"VJP: max |new - ref| = {(v_new - v_ref).abs().max().item():.3e} (max |VJP| {scale_v:.3e})")
    for k, v in times.items():
        print(f"{k:18s} median {np.median(v):.4f} s  [{min(v):.4f}-{max(v):.4f}]")


if __name__ == "__main__":
    main()
