"""Committee (ensemble) spread of NNPForce models during OpenMM simulations."""

from __future__ import annotations

import os
from typing import Any, TextIO

import numpy as np
import openmm

from .bindings import NNPForce
from .topology import find_nnp_forces


def _single_force(context: openmm.Context, force: NNPForce | None) -> NNPForce:
    if force is not None:
        return force
    forces = find_nnp_forces(context.getSystem())
    if len(forces) != 1:
        raise ValueError(
            f"the Context's System has {len(forces)} NNPForce objects; pass the one you mean as force=..."
            if forces
            else "the Context's System has no NNPForce (forces inside a CustomCVForce cannot be queried)"
        )
    return forces[0]


def committee_deviation(context: openmm.Context, force: NNPForce | None = None) -> dict[str, Any]:
    """Spread of the committee of ``force`` at the Context's current positions.

    Evaluates the model once more with per-member gradients. ``force`` may be left
    out when the System holds exactly one NNPForce. Returns, in OpenMM units:

    - ``energy_std`` (kJ/mol): population standard deviation of member energies,
    - ``member_energies`` (kJ/mol, [M]),
    - ``forces_std`` (kJ/mol/nm, one per particle of the force, in its order):
      sqrt(mean_m |F_m - <F>|^2), DeePMD-kit's force model deviation,
    - ``max_forces_std``, ``min_forces_std``, ``mean_forces_std``.
    """
    deviation = _single_force(context, force).computeCommitteeDeviation(context)
    forces_std = np.asarray(deviation.forcesStd, dtype=np.float64)
    empty = forces_std.size == 0
    return {
        "energy_std": float(deviation.energyStd),
        "member_energies": np.asarray(deviation.memberEnergies, dtype=np.float64),
        "forces_std": forces_std,
        "max_forces_std": 0.0 if empty else float(forces_std.max()),
        "min_forces_std": 0.0 if empty else float(forces_std.min()),
        "mean_forces_std": 0.0 if empty else float(forces_std.mean()),
    }


class NNPUncertaintyReporter:
    """Writes the committee spread of an NNPForce every ``report_interval`` steps.

    One line per report, whitespace separated, like DeePMD-kit's model_devi.out:
    step, time (ps), energy deviation (kJ/mol), max/min/mean per-atom force
    deviation (kJ/mol/nm). Each report costs one extra model evaluation.

    Args:
        file: path or open text file.
        report_interval: steps between reports.
        force: the NNPForce to watch; by default the one NNPForce of the System.
        append: append to an existing file instead of starting a new one.
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | TextIO,
        report_interval: int,
        force: NNPForce | None = None,
        append: bool = False,
    ) -> None:
        if int(report_interval) < 1:
            raise ValueError(f"report_interval must be at least 1, got {report_interval}")
        self._interval = int(report_interval)
        self._force = force
        self._own_file = not hasattr(file, "write")
        self._out: TextIO = open(file, "a" if append else "w") if self._own_file else file  # type: ignore[arg-type]
        if not append:
            self._out.write(
                "# step  time(ps)  energy_std(kJ/mol)  max_forces_std  min_forces_std  mean_forces_std (kJ/mol/nm)\n"
            )
            self._out.flush()

    def describeNextReport(self, simulation: Any) -> dict[str, Any]:
        steps = self._interval - simulation.currentStep % self._interval
        return {"steps": steps, "periodic": None, "include": []}

    def report(self, simulation: Any, state: openmm.State) -> None:
        d = committee_deviation(simulation.context, self._force)
        time_ps = simulation.context.getTime().value_in_unit(openmm.unit.picosecond)
        self._out.write(
            f"{simulation.currentStep:10d} {time_ps:12.6f} {d['energy_std']:.8e} {d['max_forces_std']:.8e} "
            f"{d['min_forces_std']:.8e} {d['mean_forces_std']:.8e}\n"
        )
        self._out.flush()

    def close(self) -> None:
        """Close the file if this reporter opened it."""
        if self._own_file and not self._out.closed:
            self._out.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
