"""PyTorch building blocks of models that follow the nnpkit model contract."""

from .ani import AevParameters, AniModel
from .behler_parrinello import BehlerParrinelloModel
from .descriptor_model import DescriptorModel
from .message_passing import MessagePassingModel, MessagePassingSizes
from .symmetry_functions import (
    CUTOFF_TYPES,
    AngularSymmetryFunction,
    CompactAngularSymmetryFunction,
    CompactRadialSymmetryFunction,
    RadialSymmetryFunction,
    SymmetryFunctions,
    SymmetryFunctionSet,
    WeightedAngularSymmetryFunction,
    WeightedRadialSymmetryFunction,
)

__all__ = [
    "AevParameters",
    "AniModel",
    "CUTOFF_TYPES",
    "AngularSymmetryFunction",
    "BehlerParrinelloModel",
    "CompactAngularSymmetryFunction",
    "CompactRadialSymmetryFunction",
    "DescriptorModel",
    "MessagePassingModel",
    "MessagePassingSizes",
    "RadialSymmetryFunction",
    "SymmetryFunctionSet",
    "SymmetryFunctions",
    "WeightedAngularSymmetryFunction",
    "WeightedRadialSymmetryFunction",
]
