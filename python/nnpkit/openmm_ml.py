"""Entry point of the ``nnpkit`` potential for openmm-ml (group ``openmmml.potentials``).

It lives outside ``nnpkit.openmm`` so that importing openmmml never needs the
OpenMM plugin: the plugin is loaded only when ``MLPotential('nnpkit', ...)`` is
created (see ``nnpkit.openmm._openmmml`` for the potential itself).
"""

from __future__ import annotations

from typing import Any

from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory


class NNPKitPotentialImplFactory(MLPotentialImplFactory):
    """Creates the openmm-ml potential of ``MLPotential('nnpkit', modelPath=...)``."""

    def createImpl(self, name: str, **args: Any) -> MLPotentialImpl:
        from .openmm._openmmml import NNPKitPotentialImpl

        return NNPKitPotentialImpl(name, **args)
