"""Reference data from a known analytic potential (ASE's Morse, copper-like), for training tests."""

from __future__ import annotations

import numpy as np


def morse(atoms):
    from ase.calculators.morse import MorsePotential

    # r0 = 2.55 A (copper-like spacing); smooth cutoff from 3.06 to 3.95 A, inside the model cutoff
    atoms.calc = MorsePotential(epsilon=0.3, r0=2.55, rho0=4.0, rcut1=1.2, rcut2=1.55)
    atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    return atoms


def morse_structures(n, seed, strain=0.04, rattle=0.08, a=3.6):
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=a * (1 + rng.uniform(-strain, strain)), cubic=True) * (2, 1, 1)
        atoms.rattle(rattle, seed=int(rng.integers(1 << 30)))
        out.append(morse(atoms))
    return out


def write_morse_files(directory) -> tuple:
    """train.extxyz (48 rattled, strained 8-atom cells) and test.extxyz (10) in ``directory``."""
    import ase.io

    train_path, test_path = directory / "train.extxyz", directory / "test.extxyz"
    ase.io.write(train_path, morse_structures(48, seed=0))
    ase.io.write(test_path, morse_structures(10, seed=1))
    return train_path, test_path
