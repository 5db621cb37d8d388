"""A user's own PyTorch module into an nnpkit model file, with a check mode.

The module must follow the model contract (docs/model-contract.md):
``forward(species, edge_index, edge_vectors, n_local)`` returning per-atom energies
``[N]`` (or ``[M, N]`` for a committee). ``nnpkit convert torch SOURCE -o MODEL``
takes SOURCE as

- ``FILE.py:NAME``: NAME in that Python file, an ``nn.Module`` or a function
  returning one (called without arguments);
- a TorchScript file (``torch.jit.save``), or a whole module saved with
  ``torch.save(module, path)`` (unpickling runs code: only for files you trust).

The check mode evaluates the written file exactly as engines do (C++ model runner,
declared cutoff and units) and the live module in Python on the same structure, with
neighbours up to 1.2 times the declared cutoff, and compares energy and forces: a
module that scripts differently from how it runs, or reads neighbours beyond its
declared cutoff, or declares the wrong units, fails it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

#: Live evaluation in check mode sees neighbours up to this multiple of the declared cutoff.
CHECK_CUTOFF_FACTOR = 1.2


def load_module(source: str) -> torch.nn.Module:
    """The module named by ``source`` (``FILE.py:NAME``, a TorchScript file or a
    ``torch.save``-d module); raises ValueError or FileNotFoundError saying what is wrong."""
    file_part, _, name = source.partition(":") if source.split(":")[0].endswith(".py") else (source, "", "")
    path = Path(file_part)
    if not path.is_file():
        raise FileNotFoundError(f"module source not found: {path}")
    if path.suffix == ".py":
        if not name:
            raise ValueError(f"name the module or the function that builds it: {path}:NAME")
        spec = importlib.util.spec_from_file_location(f"nnpkit_user_module_{path.stem}", path)
        python_module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = python_module  # type: ignore[union-attr]
        spec.loader.exec_module(python_module)  # type: ignore[union-attr]
        if not hasattr(python_module, name):
            raise ValueError(f"{path} defines no {name!r}")
        obj = getattr(python_module, name)
        if not isinstance(obj, torch.nn.Module) and callable(obj):
            obj = obj()
        if not isinstance(obj, torch.nn.Module):
            raise ValueError(f"{path}:{name} is {type(obj).__name__}, not a torch.nn.Module (or a function returning one)")
        return obj
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except RuntimeError:
        pass  # not TorchScript: a pickled module?
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001  (any unpickling failure means the same to the user)
        raise ValueError(f"{path} is neither a TorchScript file nor a module saved with torch.save ({error})") from None
    if isinstance(obj, dict):
        raise ValueError(
            f"{path} holds a state dict, which has no architecture: give FILE.py:NAME, a function that builds "
            "the module and loads that state dict"
        )
    if not isinstance(obj, torch.nn.Module):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a torch.nn.Module")
    return obj


def evaluate_module(
    module: torch.nn.Module,
    atoms: Any,
    species: Sequence[str],
    cutoff: float,
    length_unit: str = "Ang",
    energy_unit: str = "eV",
) -> dict[str, np.ndarray | float]:
    """Energy (eV) and forces (eV/Angstrom) of a live contract module on an ``ase.Atoms``,
    committee mean for committees; ``cutoff`` is in the module's length unit."""
    from .. import _core

    to_model = 1.0 / _core.length_unit_in_angstrom(length_unit)
    energy_in_ev = _core.energy_unit_in_ev(energy_unit)
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(species))
    if unknown:
        raise ValueError(f"the structure holds {', '.join(unknown)}, which the module's species {list(species)} lack")
    edge_index, _, vectors = _core.neighbor_list(
        atoms.positions * to_model, atoms.cell.array * to_model, [bool(p) for p in atoms.pbc], cutoff
    )
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float64)
    species_index = torch.tensor([list(species).index(s) for s in symbols], dtype=torch.int64)
    edge_index_t = torch.from_numpy(edge_index)
    edge_vectors = torch.from_numpy(vectors).to(dtype).requires_grad_(True)
    n = len(atoms)
    energies = module(species_index, edge_index_t, edge_vectors, n)
    if energies.dim() == 1:
        energies = energies.unsqueeze(0)
    energy = energies[:, :n].sum(1).mean()
    (gradient,) = torch.autograd.grad(energy, edge_vectors, allow_unused=True)
    if gradient is None:
        gradient = torch.zeros_like(edge_vectors)
    gradient = gradient.double()
    forces = torch.zeros(n, 3, dtype=torch.float64)
    forces.index_add_(0, edge_index_t[0], gradient)
    forces.index_add_(0, edge_index_t[1], -gradient)
    return {
        "energy": float(energy.detach()) * energy_in_ev,
        "forces": forces.numpy() * energy_in_ev * to_model,
    }


def check_model_file(
    module: torch.nn.Module, path: str | os.PathLike[str], atoms: Any, tolerance: float = 1e-6
) -> dict[str, Any]:
    """Compare a written model file with the live module on one structure.

    Returns ``energy_error`` (eV, relative to max(1, |E|)), ``force_error`` (eV/Angstrom,
    relative to max(1, max |F|)), both energies, and ``ok`` (both within ``tolerance``).
    """
    from ..model import load

    model = load(path)
    meta = model.metadata
    live = evaluate_module(
        module, atoms, meta["species"], CHECK_CUTOFF_FACTOR * float(meta["cutoff"]), meta["length_unit"],
        meta["energy_unit"],
    )
    written = model.compute(atoms, committee_statistics=False)
    energy_error = abs(written["energy"] - live["energy"]) / max(1.0, abs(live["energy"]))
    force_scale = max(1.0, float(np.abs(live["forces"]).max(initial=0.0)))
    force_error = float(np.abs(written["forces"] - live["forces"]).max(initial=0.0)) / force_scale
    return {
        "energy_file": written["energy"],
        "energy_module": live["energy"],
        "energy_error": energy_error,
        "force_error": force_error,
        "ok": energy_error <= tolerance and force_error <= tolerance,
    }


def require_agreement(module: torch.nn.Module, path: str, atoms: Any, tolerance: float) -> dict[str, Any]:
    """:func:`check_model_file`; raises ValueError on disagreement (the caller decides
    what happens to the file: :func:`convert_module` never renames a failed one over
    the target)."""
    result = check_model_file(module, path, atoms, tolerance)
    if not result["ok"]:
        raise ValueError(
            f"check failed: the written file gives E = {result['energy_file']:.10g} eV, the live module "
            f"{result['energy_module']:.10g} eV (relative energy error {result['energy_error']:.2e}, force "
            f"error {result['force_error']:.2e}, tolerance {tolerance:g}). Does the module read neighbours "
            "beyond its declared cutoff?"
        )
    return result


def convert_module(
    module: torch.nn.Module,
    output: str | os.PathLike[str],
    check_structure: Optional[Any] = None,
    tolerance: float = 1e-6,
    **metadata: Any,
) -> str:
    """Write ``module`` as an nnpkit model file; see :func:`convert_and_check`. Returns the path."""
    return convert_and_check(module, output, check_structure, tolerance, **metadata)[0]


def convert_and_check(
    module: torch.nn.Module,
    output: str | os.PathLike[str],
    check_structure: Optional[Any] = None,
    tolerance: float = 1e-6,
    **metadata: Any,
) -> tuple[str, dict[str, Any] | None]:
    """Write ``module`` as an nnpkit model file (``metadata`` as for :func:`nnpkit.export`:
    species, cutoff, interaction_range, length_unit, energy_unit, committee_size, ...).

    With ``check_structure`` (an ``ase.Atoms``), the written file is compared with the
    live module on it; a disagreement beyond ``tolerance`` raises ValueError. The file
    is written beside ``output`` and renamed over it only once it loads, evaluates to
    finite numbers of the declared shape and passes the check: a failed conversion
    leaves an existing ``output`` untouched. ``min_distance`` defaults to
    :data:`nnpkit.export.DEFAULT_MIN_DISTANCE` Angstrom (a module carries no training data)."""
    from .. import _core
    from ..export import DEFAULT_MIN_DISTANCE, export

    metadata = dict(metadata)
    if metadata.get("min_distance") is None:
        metadata["min_distance"] = DEFAULT_MIN_DISTANCE / _core.length_unit_in_angstrom(
            metadata.get("length_unit", "Ang"))
        metadata["min_distance_source"] = "nnpkit's default for converted PyTorch modules"
    else:
        metadata.setdefault("min_distance_source", "given when the model was converted")

    if isinstance(module, torch.jit.ScriptModule):
        missing = [k for k in ("species", "cutoff") if metadata.get(k) is None and not hasattr(module, k)]
        if missing:
            raise ValueError(f"a TorchScript module needs {' and '.join(missing)} given explicitly")
    try:
        scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
    except (RuntimeError, torch.jit.frontend.FrontendError) as error:  # type: ignore[attr-defined]
        raise ValueError(f"the module cannot be scripted: {error}") from None
    arguments = [a.name for a in scripted.forward.schema.arguments][1:]
    if len(arguments) != 4:
        raise ValueError(
            f"the module's forward({', '.join(arguments)}) does not follow the model contract "
            "forward(species, edge_index, edge_vectors, n_local)"
        )
    check = None
    if check_structure is not None:
        def check(tmp: str) -> None:
            results.update(require_agreement(module, tmp, check_structure, tolerance))
    results: dict[str, Any] = {}
    try:
        path = export(module, output, check=check, **metadata)
    except AttributeError as error:
        raise ValueError(f"missing metadata: {error} (pass --species and --cutoff)") from None
    except (RuntimeError, torch.jit.frontend.FrontendError) as error:  # type: ignore[attr-defined]
        raise ValueError(f"the module cannot be scripted or does not follow the model contract: {error}") from None
    return path, results or None


def _run(args) -> int:
    import ase.io

    module = load_module(args.source)
    metadata: dict[str, Any] = {
        "length_unit": args.length_unit,
        "energy_unit": args.energy_unit,
        "origin": {"kind": "pytorch-module", "source": os.path.basename(args.source)},
    }
    for key in ("species", "cutoff", "interaction_range", "committee_size", "min_distance"):
        value = getattr(args, key)
        if value is not None:
            metadata[key] = value
    atoms = None
    if args.check:
        try:
            atoms = ase.io.read(args.check)
        except Exception as error:  # noqa: BLE001  (ASE raises many types for unreadable files)
            raise ValueError(f"cannot read the check structure {args.check}: {error}") from None
    path, result = convert_and_check(module, args.output, atoms, args.tolerance, **metadata)
    from ..model import load

    model = load(path)
    print(
        f"wrote {path}: species {' '.join(model.species)}, cutoff {model.metadata['cutoff']} "
        f"{model.metadata['length_unit']}, energies in {model.metadata['energy_unit']}, "
        f"committee of {model.committee_size}"
    )
    if result is not None:
        print(
            f"check on {args.check}: file and live module agree (relative energy error {result['energy_error']:.1e}, "
            f"force error {result['force_error']:.1e})"
        )
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "torch",
        help="your own PyTorch module that follows the model contract",
        description="Script a PyTorch module that follows the nnpkit model contract and write it with its metadata. "
        "SOURCE is FILE.py:NAME (a module or a function returning one), a TorchScript file or a torch.save-d module. "
        "Metadata not given is read from the module's attributes of the same name.",
    )
    p.add_argument("source", help="FILE.py:NAME, a TorchScript file or a torch.save-d module")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--species", nargs="+", help="element symbols in the module's species order")
    p.add_argument("--cutoff", type=float, help="neighbour cutoff, in the module's length unit")
    p.add_argument("--interaction-range", type=float, help="cutoff x message-passing layers (default: cutoff)")
    p.add_argument("--committee-size", type=int, help="members, for modules returning [M, N]")
    p.add_argument("--min-distance", type=float, help="closest pair of atoms engines accept, in the module's length "
                   "unit: the closest pair of the training data (default 0.5 Angstrom)")
    p.add_argument("--length-unit", default="Ang", help="the module's length unit (ASE name; default Ang)")
    p.add_argument("--energy-unit", default="eV", help="the module's energy unit (ASE name; default eV)")
    p.add_argument("--check", metavar="STRUCTURE", help="compare the written file with the live module on this "
                   "structure (any file ASE reads)")
    p.add_argument("--tolerance", type=float, default=1e-6, help="relative tolerance of the check (default 1e-6)")
    p.set_defaults(func=_run)


__all__ = ["check_model_file", "convert_and_check", "convert_module", "evaluate_module", "load_module", "require_agreement"]
