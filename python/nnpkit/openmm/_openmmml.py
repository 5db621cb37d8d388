"""The ``nnpkit`` potential of openmm-ml (created by ``nnpkit.openmm_ml``, the entry point).

Use it through openmm-ml, not by importing this module::

    from openmmml import MLPotential
    potential = MLPotential("nnpkit", modelPath="model.pt")
    system = potential.createSystem(topology)                       # everything by the model
    mixed = potential.createMixedSystem(topology, mm_system, atoms)  # ML/MM, mechanical embedding
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import openmm
import openmm.app
from openmmml.mlpotential import MLPotentialImpl


class NNPKitPotentialImpl(MLPotentialImpl):
    """An nnpkit model file as an openmm-ml potential.

    Args:
        modelPath: the nnpkit model file (required).
    """

    def __init__(self, name: str, modelPath: str | os.PathLike[str] | None = None) -> None:
        if modelPath is None:
            raise ValueError("MLPotential('nnpkit') needs the model file: MLPotential('nnpkit', modelPath='model.pt')")
        if not os.path.exists(modelPath):
            raise FileNotFoundError(f"nnpkit model file not found: {modelPath}")
        self.name = name
        self.modelPath = os.path.abspath(os.fspath(modelPath))

    def addForces(
        self,
        topology: openmm.app.Topology,
        system: openmm.System,
        atoms: Iterable[int] | None,
        forceGroup: int,
        periodic: bool | None = None,
        **args: Any,
    ) -> None:
        from . import create_nnp_force

        force = create_nnp_force(self.modelPath, topology, atoms, periodic)
        force.setForceGroup(forceGroup)
        system.addForce(force)

    def getMLLongRange(self) -> bool:
        # nnpkit models are local: nothing reaches beyond interaction_range.
        return False
