"""ASE calculator backed by an nnpkit model."""

from __future__ import annotations

import os
from typing import Any

from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from .model import Model


class NNPCalculator(Calculator):
    """Energy, forces, stress and per-atom energies from an nnpkit model.

    Usable with ASE's optimizers and MD integrators. For committees,
    ``calc.results`` also holds ``energy_std`` and ``forces_std`` (per-atom force
    deviation) of the last evaluation.

    Args:
        model: an :class:`nnpkit.Model` or the path of a model file.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(self, model: Model | str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model if isinstance(model, Model) else Model(model)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        if "stress" in properties and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a structure periodic in all three directions")
        result = self.model.compute(self.atoms)
        self.results = {
            "energy": result["energy"],
            "free_energy": result["energy"],
            "forces": result["forces"],
            "energies": result["energies"],
        }
        if "stress" in result:
            self.results["stress"] = result["stress"]
        for key in ("energy_std", "forces_std"):
            if key in result:
                self.results[key] = result[key]
