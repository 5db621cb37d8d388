"""TorchANI 2.9 as the reference for the ANI tests: loading NeuroChem files offline
and evaluating energies, forces and ensemble members in double precision."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
import torch

HARTREE_IN_EV = 27.211386024367243  # CODATA 2014, as ase.units and nnpkit's unit table


def load_torchani(info_file: pathlib.Path, workdir: pathlib.Path):
    """A TorchANI model of the NeuroChem files at ``info_file``, in float64.

    TorchANI reads NeuroChem files from $TORCHANI_DATA_DIR/Neurochem; a symbolic link
    in ``workdir`` points there without writing next to the (read-only) data."""
    os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")
    torchani = pytest.importorskip("torchani")
    link = workdir / "Neurochem"
    if not link.exists():
        link.symlink_to(pathlib.Path(info_file).resolve().parent, target_is_directory=True)
    previous = os.environ.get("TORCHANI_DATA_DIR")
    os.environ["TORCHANI_DATA_DIR"] = str(workdir)
    try:
        return torchani.neurochem.load_model_from_info_file(workdir / "Neurochem" / pathlib.Path(info_file).name).double()
    finally:
        if previous is None:
            os.environ.pop("TORCHANI_DATA_DIR", None)
        else:
            os.environ["TORCHANI_DATA_DIR"] = previous


def torchani_results(model, atoms) -> dict:
    """Mean energy and forces, member energies and forces (Hartree, Angstrom)."""
    species = torch.tensor(np.asarray(atoms.get_atomic_numbers()), dtype=torch.int64).unsqueeze(0)
    positions = torch.tensor(atoms.get_positions(), dtype=torch.float64).unsqueeze(0).requires_grad_(True)
    kwargs = {}
    if atoms.pbc.any():
        kwargs = {"cell": torch.tensor(atoms.cell.array, dtype=torch.float64), "pbc": torch.tensor(atoms.pbc)}
    members = model((species, positions), ensemble_values=True, **kwargs).energies[:, 0]  # [M]
    member_forces = torch.stack(
        [-torch.autograd.grad(e, positions, retain_graph=True)[0][0] for e in members]
    )
    return {
        "energy": members.mean().item(),
        "forces": member_forces.mean(0).numpy(),
        "member_energies": members.detach().numpy(),
        "member_forces": member_forces.numpy(),
    }


def water_box(n_target: int, seed: int = 0):
    """A periodic box of randomly oriented rigid waters on a cubic grid at about 1 g/cm^3."""
    from ase import Atoms

    per_side = max(1, round((n_target / 3) ** (1 / 3)))
    spacing = 3.104  # Angstrom: 1 molecule per 29.9 A^3
    rng = np.random.default_rng(seed)
    bond, angle = 0.9572, np.radians(104.52)
    local = np.array([[0, 0, 0], [bond, 0, 0], [bond * np.cos(angle), bond * np.sin(angle), 0]])
    positions = []
    for i in range(per_side):
        for j in range(per_side):
            for k in range(per_side):
                q = rng.normal(size=4)
                q /= np.linalg.norm(q)
                a, b, c, d = q
                rot = np.array(
                    [
                        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                        [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
                        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
                    ]
                )
                centre = (np.array([i, j, k]) + 0.5 + rng.uniform(-0.1, 0.1, 3)) * spacing
                positions.extend(centre + local @ rot.T)
    n_mol = per_side**3
    return Atoms("OHH" * n_mol, positions=positions, cell=np.eye(3) * spacing * per_side, pbc=True)
