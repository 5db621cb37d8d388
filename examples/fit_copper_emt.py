"""Fit the small Behler-Parrinello copper model that `make demo` runs.

Reference data: ASE's EMT calculator on periodic fcc copper (strained and
rattled 32-atom cells, a vacancy, short hot MD snapshots). A quick fit to
energies and forces; the training example (examples/train-copper) makes a
properly validated committee.

Usage: python examples/fit_copper_emt.py [-o examples/models/copper-bp.pt]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet

import nnpkit
from nnpkit import _core
from nnpkit.models import BehlerParrinelloModel, SymmetryFunctionSet

CUTOFF = 5.0


def reference_structures(rng: np.random.Generator) -> list:
    structures = []
    for strain in np.linspace(-0.04, 0.04, 6):
        for _ in range(2):
            atoms = bulk("Cu", "fcc", a=3.61 * (1 + strain), cubic=True) * (2, 2, 2)
            atoms.rattle(0.05 + 0.1 * rng.random(), seed=int(rng.integers(1 << 30)))
            structures.append(atoms)
    vacancy = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    del vacancy[0]
    for _ in range(2):
        v = vacancy.copy()
        v.rattle(0.08, seed=int(rng.integers(1 << 30)))
        structures.append(v)
    for temperature in (300, 800, 1400):
        atoms = bulk("Cu", "fcc", a=3.63, cubic=True) * (2, 2, 2)
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=2 * temperature, rng=rng)
        dyn = VelocityVerlet(atoms, 2 * units.fs)
        for _ in range(4):
            dyn.run(25)
            snapshot = atoms.copy()
            snapshot.calc = None
            structures.append(snapshot)
    for atoms in structures:
        atoms.calc = EMT()
        atoms.info["energy"] = atoms.get_potential_energy()
        atoms.arrays["ref_forces"] = atoms.get_forces()
    return structures


def batch(structures: list) -> dict:
    """One graph of all structures: edges offset per structure, grouped by centre."""
    edge_index, vectors, owner, offset = [], [], [], 0
    for k, atoms in enumerate(structures):
        ei, _, vec = _core.neighbor_list(atoms.positions, atoms.cell.array, list(atoms.pbc), CUTOFF)
        edge_index.append(ei + offset)
        vectors.append(vec)
        owner += [k] * len(atoms)
        offset += len(atoms)
    return {
        "edge_index": torch.from_numpy(np.concatenate(edge_index, axis=1)),
        "vectors": torch.from_numpy(np.concatenate(vectors)),
        "species": torch.zeros(offset, dtype=torch.int64),
        "owner": torch.tensor(owner),
        "n_atoms": torch.tensor([len(a) for a in structures], dtype=torch.float64),
        "energy": torch.tensor([a.info["energy"] for a in structures]),
        "forces": torch.from_numpy(np.concatenate([a.arrays["ref_forces"] for a in structures])),
    }


def predict(model, data, create_graph):
    vectors = data["vectors"].clone().requires_grad_(True)
    atom_energy = model(data["species"], data["edge_index"], vectors, len(data["species"]))
    energy = torch.zeros(len(data["energy"]), dtype=atom_energy.dtype).index_add(0, data["owner"], atom_energy)
    (dE_dr,) = torch.autograd.grad(energy.sum(), vectors, create_graph=create_graph)
    forces = torch.zeros_like(data["forces"]).index_add(0, data["edge_index"][0], dE_dr)
    forces = forces.index_add(0, data["edge_index"][1], -dE_dr)
    return energy, forces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(pathlib.Path(__file__).parent / "models" / "copper-bp.pt"))
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    structures = reference_structures(rng)
    data = batch(structures)

    sf = SymmetryFunctionSet.standard(["Cu"], CUTOFF, n_radial=8, r_min=2.0)
    model = BehlerParrinelloModel(sf, hidden=(16, 16), activation="tanh")
    with torch.no_grad():
        G = model.descriptor(data["vectors"], data["edge_index"], data["species"], len(data["species"]))
    model.fit_scaling(G, data["species"])
    with torch.no_grad():
        model.energy_offset[0] = (data["energy"] / data["n_atoms"]).mean()

    parameters = list(model.networks.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps)
    start = time.time()
    for step in range(args.steps + 1):
        energy, forces = predict(model, data, create_graph=True)
        e_loss = (((energy - data["energy"]) / data["n_atoms"]) ** 2).mean()
        f_loss = ((forces - data["forces"]) ** 2).mean()
        loss = e_loss / 0.002**2 + f_loss / 0.05**2
        grads = torch.autograd.grad(loss, parameters)
        for p, g in zip(parameters, grads):
            p.grad = g
        optimizer.step()
        schedule.step()
        if step % 50 == 0:
            print(f"step {step:4d}  energy RMSE {1000 * e_loss.sqrt():.2f} meV/atom  "
                  f"force RMSE {1000 * f_loss.sqrt():.1f} meV/Ang  ({time.time() - start:.0f} s)")
    nnpkit.export(model, args.output, origin={"kind": "fitted", "source": "ASE EMT copper, examples/fit_copper_emt.py"})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
