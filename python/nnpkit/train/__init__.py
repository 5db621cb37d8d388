"""Training nnpkit models on reference energies, forces and stresses.

From Python::

    from nnpkit.train import load_config, train
    result = train(load_config("train.yaml"), committee=4)
    result.model_path            # one model file (a committee when committee > 1)

or from the shell: ``nnpkit train train.yaml --committee 4``. See docs/training.md.
"""

from .config import TrainConfig, config_from_dict, load_config
from .data import Structure, atoms_to_structure, fit_energy_offsets
from .models import ModelType, register_model_type
from .ani_model import AniType
from .results import Metrics, TrainResult
from .trainer import evaluate, load_data, train

register_model_type(AniType.name, AniType)

__all__ = [
    "Metrics",
    "ModelType",
    "Structure",
    "TrainConfig",
    "TrainResult",
    "atoms_to_structure",
    "config_from_dict",
    "evaluate",
    "fit_energy_offsets",
    "load_config",
    "load_data",
    "register_model_type",
    "train",
]
