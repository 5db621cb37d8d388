"""nnpkit: run neural-network interatomic potentials fast and correctly.

The C++ core (neighbour search, descriptor operators, model runner) is loaded
with this package; torch must be imported first so that the core and the
TorchScript models share one libtorch.

Quick start::

    import nnpkit
    model = nnpkit.load("model.pt")
    result = model.compute(atoms)          # ase.Atoms
    result["energy"], result["forces"]     # eV, eV/Angstrom
"""

from __future__ import annotations

import torch  # noqa: F401  (loads libtorch before the core library)

from . import _core
from ._core import AtomsTooCloseError, InputError, ModelFileError, NonFinitePositionError, UnknownElementError
from ._version import __version__
from .export import export
from .model import ExtrapolationWarning, Model, load
from .paths import lammps_plugin_path, openmm_plugin_path
from .threads import get_num_threads, set_num_threads

__all__ = [
    "AtomsTooCloseError",
    "ExtrapolationWarning",
    "InputError",
    "Model",
    "ModelFileError",
    "NonFinitePositionError",
    "UnknownElementError",
    "export",
    "get_num_threads",
    "lammps_plugin_path",
    "load",
    "openmm_plugin_path",
    "set_num_threads",
    "__version__",
]
