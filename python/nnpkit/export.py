"""Writing nnpkit model files: a TorchScript module plus its metadata."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ._version import __version__

FORMAT_VERSION = 1
METADATA_FILE = "nnpkit.json"

#: min_distance (Angstrom) written when nothing better is known: converters of
#: formats that do not record their training data (ANI, your own PyTorch module,
#: n2p2 without scaling.data) use it unless told otherwise. Two atoms this close
#: are unphysical for every element pair (the H2 bond is 0.74 Angstrom).
DEFAULT_MIN_DISTANCE = 0.5


def probe_structure(species: Sequence[str], cutoff: float, min_distance: float = 0.0) -> tuple[np.ndarray, list[str]]:
    """A tiny open structure (positions in Angstrom, symbols) holding every species once,
    plus one more atom: a zigzag chain whose neighbours are closer than ``cutoff`` and
    farther apart than ``min_distance``, so that every model sees some edges."""
    spacing = 0.5 * cutoff
    if spacing <= 1.2 * min_distance:
        spacing = 0.5 * (min_distance + cutoff)
    step = spacing / np.sqrt(1.25)  # neighbours in the chain are `spacing` apart
    symbols = list(species) + [species[0]]
    positions = np.array([[i * step, 0.5 * step * (i % 2), 0.0] for i in range(len(symbols))])
    return positions, symbols


def validate_model_file(path: str | os.PathLike[str]) -> None:
    """Load a model file and evaluate it on :func:`probe_structure`: the metadata must
    parse, the output must have the shape the metadata declares (per-atom energies,
    one row per committee member) and energy and forces must be finite. Raises
    ValueError saying what is wrong."""
    from .model import Model

    try:
        model = Model(path)
        positions, symbols = probe_structure(model.species, model.cutoff, model.min_distance)
        result = model.compute(positions=positions, numbers=symbols, committee_statistics=False, extrapolation=False)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"the model does not work: {error}") from None
    forces = result["forces"]
    if forces.shape != positions.shape or not np.isfinite(forces).all() or not np.isfinite(result["energy"]):
        raise ValueError(f"the model gives a non-finite energy or forces on a {len(symbols)}-atom test structure")


def write_model_file(
    path: str | os.PathLike[str], write: Callable[[str], None], check: Callable[[str], None] | None = None
) -> str:
    """Write a model file without ever losing what ``path`` held.

    ``write(tmp)`` writes the file to a temporary name beside ``path``; it is then
    validated (:func:`validate_model_file`, then ``check(tmp)`` if given) and only
    then renamed over ``path``. If anything fails, the temporary file is removed,
    ``path`` is untouched, and ValueError (or the writer's own error) is raised.
    Returns ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: the folder {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"cannot write the model to {path}: it is a directory")
    handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(handle)
    try:
        write(tmp)
        try:
            validate_model_file(tmp)
            if check is not None:
                check(tmp)
        except ValueError as error:
            kept = f"; {path} was left unchanged" if os.path.exists(path) else f"; nothing was written to {path}"
            raise ValueError(f"{error}{kept}") from None
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


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
    min_distance_source: str | None = None,
    origin: dict[str, Any] | None = None,
    extra_metadata: dict[str, Any] | None = None,
    check: Callable[[str], None] | None = None,
) -> str:
    """Script ``module`` and save it with its metadata as an nnpkit model file.

    The module must follow the model contract (docs/model-contract.md):
    ``forward(species, edge_index, edge_vectors, n_local)`` returning per-atom
    energies ``[N]`` (or ``[M, N]`` for a committee of M members).

    Any of ``species``, ``cutoff``, ``interaction_range``, ``committee_size`` left out
    is taken from the module's attribute of that name (nnpkit's model classes have
    them). ``min_distance`` (in ``length_unit``) is the closest pair the model
    accepts, normally the closest pair of its training data (say where it came
    from in ``min_distance_source``); engines refuse closer pairs. Returns the path
    written.

    Nothing at ``path`` is lost: the file is written beside it under a temporary
    name, loaded back and evaluated on a tiny structure (finite energy and forces,
    output of the declared committee size), checked with ``check(tmp)`` if given,
    and only then renamed over ``path``; a failure raises ValueError.
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
        if not float(min_distance) >= 0.0:
            raise ValueError(f"min_distance must be a non-negative length, got {min_distance}")
        metadata["min_distance"] = float(min_distance)
        if min_distance_source:
            metadata["min_distance_source"] = min_distance_source
    describe = getattr(module, "describe", None)
    if callable(describe):
        metadata["architecture"] = describe()
    if extra_metadata:
        metadata.update(extra_metadata)
    metadata["nnpkit_version"] = __version__

    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    extra_files = {METADATA_FILE: json.dumps(metadata, indent=1)}
    return write_model_file(path, lambda tmp: torch.jit.save(scripted, tmp, _extra_files=extra_files), check)
