"""nnpkit models in OpenMM: the ``NNPForce`` plugin and helpers around it.

``import nnpkit.openmm`` loads the plugin library into OpenMM once (every platform:
Reference, CPU, OpenCL, CUDA, HIP) and exposes:

- :class:`NNPForce` -- ``NNPForce(model_file, elements, particles=None)``, a Force
  evaluating an nnpkit model on all particles of a System or on a subset (ML/MM);
- :func:`create_nnp_force` -- builds one from an OpenMM Topology (optionally for a
  subset of its atoms), periodic when the Topology has a box;
- :func:`committee_deviation` and :class:`NNPUncertaintyReporter` -- the spread of
  a committee model, on demand or written to a file every N steps;
- the ``nnpkit`` potential of openmm-ml (``MLPotential('nnpkit', modelPath=...)``),
  registered through the ``openmmml.potentials`` entry point.
"""

from __future__ import annotations

import openmm

import nnpkit  # noqa: F401  (loads libtorch and the nnpkit core before the plugin)

from ..paths import openmm_plugin_path


def _load_plugin() -> None:
    # One copy of the library, loaded by its installed path; the SWIG module below
    # links the same file, so the dynamic loader reuses it. OPENMM_PLUGIN_DIR is left alone.
    openmm.Platform.loadPluginLibrary(openmm_plugin_path())


_load_plugin()

from .bindings import NNPCommitteeDeviation, NNPForce  # noqa: E402
from .reporter import NNPUncertaintyReporter, committee_deviation  # noqa: E402
from .topology import create_nnp_force, find_nnp_forces  # noqa: E402

__all__ = [
    "NNPCommitteeDeviation",
    "NNPForce",
    "NNPUncertaintyReporter",
    "committee_deviation",
    "create_nnp_force",
    "find_nnp_forces",
]
