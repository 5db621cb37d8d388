"""Building NNPForce from an OpenMM Topology, and finding it in a System."""

from __future__ import annotations

import os
from typing import Iterable

import openmm
import openmm.app

from .bindings import NNPForce


def create_nnp_force(
    model_file: str | os.PathLike[str],
    topology: openmm.app.Topology,
    atoms: Iterable[int] | None = None,
    periodic: bool | None = None,
) -> NNPForce:
    """An :class:`NNPForce` for the atoms of ``topology`` (all, or the indices in ``atoms``).

    Elements come from the Topology. ``periodic`` defaults to whether the Topology
    has periodic box vectors; the model then sees the System's (possibly
    triclinic) box. Add the result to the System with ``system.addForce``.
    """
    all_atoms = list(topology.atoms())
    indices = list(range(len(all_atoms))) if atoms is None else [int(i) for i in atoms]
    elements = []
    for i in indices:
        if not 0 <= i < len(all_atoms):
            raise IndexError(f"atom index {i} is out of range: the topology has {len(all_atoms)} atoms")
        atom = all_atoms[i]
        if atom.element is None:
            raise ValueError(
                f"atom {i} ({atom.name} of residue {atom.residue.name} {atom.residue.id}) has no element; "
                "the model needs one for every atom it acts on"
            )
        elements.append(atom.element)
    force = NNPForce(model_file, elements, None if atoms is None else indices)
    if periodic is None:
        periodic = topology.getPeriodicBoxVectors() is not None
    force.setUsesPeriodicBoundaryConditions(bool(periodic))
    return force


def find_nnp_forces(system: openmm.System) -> list[NNPForce]:
    """Every NNPForce of ``system`` (directly in it, not inside a CustomCVForce), as NNPForce objects."""
    return [NNPForce.cast(force) for force in system.getForces() if NNPForce.isinstance(force)]
