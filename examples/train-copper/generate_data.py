"""Reference data for copper from ASE's EMT calculator.

Writes train.extxyz and test.extxyz (energies, forces, stresses) next to this file:
strained bulk (isotropic and shear), vacancies, (100)/(111) surfaces, and MD
snapshots from 300 K up to beyond melting (EMT copper melts near 1300-1400 K).
Deterministic (fixed seeds); takes well under a minute.
"""

from __future__ import annotations

import pathlib

import ase.io
import numpy as np
from ase import units
from ase.build import bulk, fcc100, fcc111
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

HERE = pathlib.Path(__file__).resolve().parent
A0 = 3.59  # EMT's copper lattice constant is close to this


def labelled(atoms):
    atoms.calc = EMT()
    atoms.get_potential_energy()
    atoms.get_forces()
    if atoms.pbc.all():
        atoms.get_stress()
    return atoms


def strained_bulk(rng, n):
    out = []
    for k in range(n):
        strain = np.eye(3) * (1 + rng.uniform(-0.06, 0.06))
        if k % 2:  # shear and uniaxial components too
            e = rng.uniform(-0.03, 0.03, (3, 3))
            strain += 0.5 * (e + e.T)
        atoms = bulk("Cu", "fcc", a=A0, cubic=True) * (2, 2, 2)
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.rattle(rng.uniform(0.0, 0.08), seed=int(rng.integers(1 << 30)))
        out.append(labelled(atoms))
    return out


def vacancies(rng, n):
    out = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=A0 * (1 + rng.uniform(-0.02, 0.02)), cubic=True) * (2, 2, 2)
        del atoms[int(rng.integers(len(atoms)))]
        atoms.rattle(rng.uniform(0.02, 0.08), seed=int(rng.integers(1 << 30)))
        out.append(labelled(atoms))
    return out


def surfaces(rng, n):
    out = []
    for k in range(n):
        maker = fcc100 if k % 2 == 0 else fcc111
        atoms = maker("Cu", size=(2, 2, 5), a=A0, vacuum=6.0, periodic=True)
        atoms.rattle(rng.uniform(0.02, 0.1), seed=int(rng.integers(1 << 30)))
        out.append(labelled(atoms))
    return out


def md_snapshots(rng, temperatures, per_temperature, stride=40):
    out = []
    for temperature in temperatures:
        atoms = bulk("Cu", "fcc", a=A0 * (1 + 1.5e-5 * (temperature - 300)), cubic=True) * (2, 2, 2)
        atoms.calc = EMT()
        thermalize_momenta(atoms, 2 * temperature, rng=rng)
        dyn = Langevin(atoms, 4 * units.fs, temperature_K=temperature, friction=0.05, rng=rng, fixcm=False)
        dyn.run(100)  # equilibrate
        for _ in range(per_temperature):
            dyn.run(stride)
            snapshot = atoms.copy()
            out.append(labelled(snapshot))
    return out


def generate(seed: int, scale: int = 1):
    rng = np.random.default_rng(seed)
    return (
        strained_bulk(rng, 24 * scale)
        + vacancies(rng, 12 * scale)
        + surfaces(rng, 12 * scale)
        + md_snapshots(rng, [300, 600, 900, 1200, 1500, 2000], 8 * scale)
    )


def main() -> None:
    train = generate(seed=1, scale=2)
    test = generate(seed=2)[::3]
    ase.io.write(HERE / "train.extxyz", train)
    ase.io.write(HERE / "test.extxyz", test)
    print(f"wrote {len(train)} training and {len(test)} test structures to {HERE}")


if __name__ == "__main__":
    main()
