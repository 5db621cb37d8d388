"""Training ANI-style models: per-element CELU networks over an atomic environment vector.

The model is the same :class:`nnpkit.models.AniModel` that converted ANI-1x/2x
models use, so a trained one runs everywhere they do (Python, LAMMPS, OpenMM).
As in TorchANI's training, the AEV enters the networks unscaled and each
element's self energy is fitted by least squares before training. The AEV and
its derivatives depend on geometry only, so they are cached once per structure
(the same :class:`DescriptorCache` as for Behler-Parrinello models).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from ..models.ani import AevParameters, AniModel
from .config import ModelConfig
from .data import Structure
from .models import ModelType


def _initial_layer(n_in: int, n_out: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """One member's layer initialized as torch.nn.Linear is: U(-1/sqrt(n_in), 1/sqrt(n_in))."""
    bound = 1.0 / math.sqrt(n_in)
    weight = (torch.rand(1, n_out, n_in, dtype=dtype) * 2 - 1) * bound
    bias = (torch.rand(1, n_out, dtype=dtype) * 2 - 1) * bound
    return weight, bias


class AniType(ModelType):
    """``model.type: ani``. ``model.cutoff`` is the radial cutoff; ``model.aev`` holds the
    other arguments of :meth:`AevParameters.standard`; ``model.hidden`` the widths of the
    hidden layers; ``model.celu_alpha`` the activation's parameter."""

    name = "ani"

    def build(self, config: ModelConfig, species: list[str], dtype: torch.dtype) -> torch.nn.Module:
        if config.activation not in (None, "celu"):
            raise ValueError(f"config 'model.activation': ANI networks use CELU, not {config.activation!r} "
                             "(set model.celu_alpha instead)")
        try:
            params = AevParameters.standard(config.cutoff, **dict(config.aev))
        except TypeError as error:
            raise ValueError(f"config 'model.aev': {error}") from None
        except ValueError as error:
            raise ValueError(f"config 'model.aev': {error}") from None
        if not config.hidden:
            raise ValueError("config 'model.hidden': ANI networks need at least one hidden layer")
        widths = [params.length(len(species)), *config.hidden, 1]
        networks = [
            [_initial_layer(n_in, n_out, dtype) for n_in, n_out in zip(widths[:-1], widths[1:])] for _ in species
        ]
        module = AniModel(species, params, networks, [0.0] * len(species), celu_alpha=config.celu_alpha, dtype=dtype)
        with torch.no_grad():  # start near the fitted self energies (as small_output_layers does)
            for network in module.networks:
                network.output.weight.mul_(0.1)
                network.output.bias.zero_()
        return module

    def fit_inputs(self, module: torch.nn.Module, structures: Sequence[Structure]) -> dict[str, Any]:
        """The AEV range of the training data per element: kept in the model for its
        extrapolation flags, and in the metadata for inspection."""
        with torch.no_grad():
            aevs = torch.cat([module.descriptors(s.species, s.edge_index, s.edge_vectors, s.n_atoms)
                              for s in structures])
            species = torch.cat([s.species for s in structures])
        module.fit_training_range(aevs, species)
        return {"descriptor_ranges": module.training_ranges()}

    def combine(self, members: Sequence[torch.nn.Module]) -> torch.nn.Module:
        """One AniModel whose networks hold the members side by side (batched evaluation)."""
        if len(members) == 1:
            return members[0]
        first = members[0]
        networks = []
        for e in range(first.n_species):
            nets = [member.networks[e] for member in members]
            layers = [(torch.cat([n.first_weight for n in nets]), torch.cat([n.first_bias for n in nets]))]
            for k in range(len(nets[0].hidden)):
                layers.append((torch.cat([n.hidden[k].weight for n in nets]), torch.cat([n.hidden[k].bias for n in nets])))
            layers.append((torch.cat([n.output.weight for n in nets]), torch.cat([n.output.bias for n in nets])))
            networks.append([(w.detach(), b.detach()) for w, b in layers])
        committee = AniModel(first.species, first.aev_parameters, networks, first.energy_offset.tolist(),
                             celu_alpha=first.networks[0].celu_alpha, dtype=first.energy_offset.dtype)
        with torch.no_grad():
            committee.descriptor_min.copy_(first.descriptor_min)
            committee.descriptor_max.copy_(first.descriptor_max)
        return committee
