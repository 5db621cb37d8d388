"""What training produces: error metrics and the result of a run (read by the report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .data import DataSets


@dataclass
class Metrics:
    """Loss and errors of a model over a set of structures."""

    loss: float
    energy_rmse: float  # eV/atom
    energy_mae: float
    forces_rmse: float | None  # eV/Angstrom (per component)
    forces_mae: float | None
    stress_rmse: float | None  # eV/Angstrom^3
    predictions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, float | None]:
        return {k: v for k, v in self.__dict__.items() if k != "predictions"}


@dataclass
class TrainResult:
    """One training run: the model file written, the modules, histories and metrics."""

    model_path: str
    module: torch.nn.Module  # the exported module (a committee when committee > 1)
    members: list[torch.nn.Module]
    histories: list[list[dict[str, Any]]]
    member_validation: list[Metrics]
    evaluation: Metrics | None  # the exported model on data.test (or data.validation files)
    evaluation_set: str
    data: DataSets
    metadata: dict[str, Any]
