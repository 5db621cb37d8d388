"""ASE calculator backed by an nnpkit model."""

from __future__ import annotations

import os
from typing import Any

from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from .model import Model


class NNPCalculator(Calculator):
    """Energy, forces, stress and per-atom energies from an nnpkit model.

    Usable with ASE's optimizers and MD integrators. A committee model gives
    its mean energy and forces from one backward pass. With
    ``committee_statistics=True`` ``calc.results`` also holds ``energy_std`` and
    ``forces_std`` (per-atom force deviation, DeePMD-kit's definition) of each
    evaluation: for models with ``forward_members`` (the descriptor models) from the same one
    backward pass, for others at the cost of one backward pass per member.

    Args:
        model: an :class:`nnpkit.Model` or the path of a model file.
        committee_statistics: compute the committee spread on every call
            (for uncertainty monitoring and active learning).
        extrapolation: check descriptors against the model's training range
            (models that store one) and warn with :class:`nnpkit.ExtrapolationWarning`.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies", "energy_std", "forces_std"]
    #: Committee spread: computed when asked for (get_property('energy_std')) even
    #: without ``committee_statistics``, at one backward pass per member for that call.
    _committee_properties = ("energy_std", "forces_std")
    #: Properties that need the backward pass.
    _gradient_properties = ("forces", "stress", "forces_std")

    def __init__(
        self,
        model: Model | str | os.PathLike[str],
        committee_statistics: bool = False,
        extrapolation: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model if isinstance(model, Model) else Model(model)
        self.committee_statistics = committee_statistics
        self.extrapolation = extrapolation

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        if "stress" in properties and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a structure periodic in all three directions")
        wants_spread = any(p in self._committee_properties for p in properties)
        if wants_spread and self.model.committee_size == 1:
            raise PropertyNotImplementedError(
                f"{', '.join(p for p in properties if p in self._committee_properties)}: model {self.model.path} is "
                "not a committee, so it has no spread"
            )
        # An energy-only request (get_potential_energy) skips the backward pass;
        # forces, stress and the force deviation need it.
        forces = any(p in self._gradient_properties for p in properties) or (
            self.committee_statistics and self.model.committee_size > 1
        )
        result = self.model.compute(
            self.atoms,
            committee_statistics=self.committee_statistics or wants_spread,
            extrapolation=self.extrapolation,
            forces=forces,
        )
        self.results = {"energy": result["energy"], "free_energy": result["energy"], "energies": result["energies"]}
        for key in ("forces", "stress", "energy_std", "forces_std"):
            if key in result:
                self.results[key] = result[key]
