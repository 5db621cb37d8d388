"""Writing nnpkit model files: a TorchScript module plus its metadata."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import torch

FORMAT_VERSION = 1
METADATA_FILE = "nnpkit.json"


def _module_dtype(module: torch.nn.Module) -> torch.dtype:
    dtypes = {t.dtype for t in list(module.parameters()) + list(module.buffers()) if t.is_floating_point()}
    if not dtypes:
        return torch.float64
    if len(dtypes) > 1:
        raise ValueError(f"the module mixes floating dtypes {sorted(map(str, dtypes))}; convert it to one")
    dtype = dtypes.pop()
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"models must be float32 or float64, not {dtype}")
    return dtype


def export(
    module: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    species: Sequence[str] | None = None,
    cutoff: float | None = None,
    interaction_range: float | None = None,
    length_unit: str = "Ang",
    energy_unit: str = "eV",
    committee_size: int | None = None,
    min_distance: float | None = None,
    origin: dict[str, Any] | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> str:
    """Script ``module`` and save it with its metadata as an nnpkit model file.

    The module must follow the model contract (docs/model-contract.md):
    ``forward(species, edge_index, edge_vectors, n_local)`` returning per-atom
    energies ``[N]`` (or ``[M, N]`` for a committee of M members).

    Any of ``species``, ``cutoff``, ``interaction_range``, ``committee_size`` left out
    is taken from the module's attribute of that name (nnpkit's model classes have
    them). Returns the path written. The file is loaded back and validated before
    this returns.
    """
    species = list(species if species is not None else getattr(module, "species"))
    cutoff = float(cutoff if cutoff is not None else getattr(module, "cutoff"))
    if interaction_range is None:
        interaction_range = float(getattr(module, "interaction_range", cutoff))
    if committee_size is None:
        committee_size = int(getattr(module, "committee_size", 1))
    dtype = _module_dtype(module)
    metadata: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "species": species,
        "cutoff": cutoff,
        "interaction_range": float(interaction_range),
        "length_unit": length_unit,
        "energy_unit": energy_unit,
        "dtype": "float32" if dtype == torch.float32 else "float64",
        "committee_size": committee_size,
        "model_type": getattr(module, "model_type", type(module).__name__),
        "origin": origin or {"kind": "pytorch-module", "class": type(module).__name__},
    }
    if min_distance is not None:
        metadata["min_distance"] = float(min_distance)
    describe = getattr(module, "describe", None)
    if callable(describe):
        metadata["architecture"] = describe()
    if extra_metadata:
        metadata.update(extra_metadata)
    from . import __version__

    metadata["nnpkit_version"] = __version__

    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    path = os.fspath(path)
    torch.jit.save(scripted, path, _extra_files={METADATA_FILE: json.dumps(metadata, indent=1)})

    from .model import Model

    Model(path)  # validates the metadata with the same code the engines use
    return path
