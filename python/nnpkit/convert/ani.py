"""ANI potentials into nnpkit model files.

Two sources:

- NeuroChem files, as published for ANI-1x, ANI-1ccx and ANI-2x (``nnpkit convert ani
  INFO_FILE -o MODEL``): an ``.info`` file of four lines (AEV constants file, self
  energy file, ensemble prefix, ensemble size), paths relative to the info file's
  folder; the ensemble's members live in ``<prefix><i>/networks/ANN-<El>.nnf`` with
  bz2-compressed layer descriptions and raw float32 weights beside them.
- a TorchANI 2 model object (``torchani.models.ANI2x()``, or one loaded from NeuroChem
  files) or its state dict: :func:`from_torchani`, :func:`from_torchani_state_dict`.

ANI works in Angstrom and Hartree; the model file declares them, so engines get eV.
"""

from __future__ import annotations

import bz2
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from ..models.ani import AevParameters, AniModel

LENGTH_UNIT = "Ang"
ENERGY_UNIT = "Hartree"

#: NeuroChem activation codes: the hidden layers' and the output layer's.
_CELU = 9
_LINEAR = 6
_ACTIVATION_NAMES = {5: "Gaussian", 6: "linear", 9: "CELU"}

#: Keys of a NeuroChem AEV constants file that TorchANI (and so nnpkit) reads, and
#: bookkeeping keys that change nothing in the AEV.
_AEV_KEYS = {"Rcr", "Rca", "EtaR", "ShfR", "Zeta", "ShfZ", "EtaA", "ShfA", "Atyp"}
_IGNORED_AEV_KEYS = {"DESC", "TM", "CG", "RP", "AC"}

Layers = list[tuple[torch.Tensor, torch.Tensor]]  # (weight [out, in], bias [out]) per layer
Progress = Optional[Callable[[str], None]]


# ------------------------------------------------------------------ NeuroChem files


def _as_float32(value: float) -> float:
    """``value`` rounded to float32, as TorchANI stores AEV constants and self energies."""
    return float(np.float32(value))


def read_aev_parameters(path: str | os.PathLike[str]) -> tuple[AevParameters, list[str]]:
    """AEV constants and element symbols (AEV order) of a NeuroChem ``.params`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AEV constants file not found: {path}")
    values: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{number}: expected 'key = value', got {line.strip()!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if key in _IGNORED_AEV_KEYS:
            continue
        if key not in _AEV_KEYS:
            raise ValueError(f"{path}:{number}: unknown AEV constant {key!r} (known: {', '.join(sorted(_AEV_KEYS))})")
        values[key] = [x.strip() for x in value.strip("[] ").split(",") if x.strip()]
    missing = sorted(_AEV_KEYS - set(values))
    if missing:
        raise ValueError(f"{path}: missing AEV constants {', '.join(missing)}")

    def numbers(key: str) -> list[float]:
        try:
            return [float(x) for x in values[key]]
        except ValueError:
            raise ValueError(f"{path}: {key} must be numbers, got {values[key]}") from None

    def single(key: str) -> float:
        v = numbers(key)
        if len(v) != 1:
            raise ValueError(f"{path}: {key} must have one value (as in TorchANI), got {len(v)}")
        return v[0]

    # TorchANI keeps every AEV constant but the cutoffs in float32 buffers; rounding
    # them the same way makes float64 results agree with TorchANI to rounding error.
    params = AevParameters(
        radial_cutoff=single("Rcr"),
        radial_eta=_as_float32(single("EtaR")),
        radial_shifts=tuple(map(_as_float32, numbers("ShfR"))),
        angular_cutoff=single("Rca"),
        angular_eta=_as_float32(single("EtaA")),
        angular_zeta=_as_float32(single("Zeta")),
        angular_shifts=tuple(map(_as_float32, numbers("ShfA"))),
        angular_sections=tuple(map(_as_float32, numbers("ShfZ"))),
    )
    return params, list(values["Atyp"])


def read_self_energies(path: str | os.PathLike[str]) -> dict[str, float]:
    """Self atomic energies (Hartree) of a NeuroChem ``sae_linfit.dat`` (lines ``Sym,index=value``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"self-energy file not found: {path}")
    energies: dict[str, float] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"\s*([A-Za-z]+)\s*,\s*(\d+)\s*=\s*(\S+)\s*", line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected 'Symbol,index=energy', got {line.strip()!r}")
        try:
            energies[match.group(1)] = float(match.group(3))
        except ValueError:
            raise ValueError(f"{path}:{number}: {match.group(3)!r} is not a number") from None
    return energies


def _nnf_text(path: Path) -> str:
    data = path.read_bytes()
    start = data.find(b"=")
    if start < 0:
        raise ValueError(f"{path}: not a NeuroChem network file (no header line)")
    try:
        return bz2.decompress(data[start + 2 :]).decode("ascii")
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot decompress the network description ({error})") from None


def _read_float32(path: Path, count: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    size = path.stat().st_size
    if size != 4 * count:
        raise ValueError(f"{path}: expected {count} float32 numbers ({4 * count} bytes), found {size} bytes")
    return np.fromfile(path, dtype="<f4")


def read_network(path: str | os.PathLike[str]) -> Layers:
    """Layers (weight [out, in], bias [out], float32) of one NeuroChem ``ANN-<El>.nnf`` network.

    Hidden layers must use CELU (activation code 9) and the last one be linear (code 6),
    as in every published ANI model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"network file not found: {path}")
    text = _nnf_text(path)
    blocks = re.findall(r"layer\s*\[(.*?)\]\s*(?=layer|\$|$)", text, flags=re.S)
    if not blocks:
        raise ValueError(f"{path}: no layers found in the network description")
    layers: Layers = []
    for n, block in enumerate(blocks, 1):
        fields = dict(
            (k.strip(), v.strip()) for k, v in (item.split("=", 1) for item in block.split(";") if "=" in item)
        )
        try:
            nodes, inputs, activation = int(fields["nodes"]), int(fields["blocksize"]), int(fields["activation"])
            wfile, wcount = re.fullmatch(r"FILE:(.+)\[(\d+)\]", fields["weights"]).groups()  # type: ignore[union-attr]
            bfile, bcount = re.fullmatch(r"FILE:(.+)\[(\d+)\]", fields["biases"]).groups()  # type: ignore[union-attr]
        except (KeyError, ValueError, AttributeError):
            raise ValueError(f"{path}: layer {n} is malformed (need nodes, blocksize, activation, weights, biases)")
        last = n == len(blocks)
        expected = _LINEAR if last else _CELU
        if activation != expected:
            name = _ACTIVATION_NAMES.get(activation, "unknown")
            raise ValueError(
                f"{path}: layer {n} uses activation {activation} ({name}); nnpkit converts ANI networks with "
                f"CELU hidden layers (9) and a linear output layer (6)"
            )
        if int(wcount) != nodes * inputs or int(bcount) != nodes:
            raise ValueError(f"{path}: layer {n} declares {wcount} weights and {bcount} biases for {inputs}->{nodes}")
        if layers and layers[-1][0].shape[0] != inputs:
            raise ValueError(f"{path}: layer {n} reads {inputs} inputs but layer {n - 1} has {layers[-1][0].shape[0]}")
        weight = _read_float32(path.parent / wfile, nodes * inputs).reshape(nodes, inputs)
        bias = _read_float32(path.parent / bfile, nodes)
        layers.append((torch.from_numpy(weight.copy()), torch.from_numpy(bias.copy())))
    if layers[-1][0].shape[0] != 1:
        raise ValueError(f"{path}: the last layer must have one output")
    return layers


def _stack_members(species: Sequence[str], members: Sequence[Mapping[str, Layers]]) -> list[Layers]:
    """Per element, each layer's weights and biases of all members stacked: [M, out, in], [M, out]."""
    stacked = []
    for s in species:
        shapes = {tuple(tuple(w.shape) for w, _ in m[s]) for m in members}
        if len(shapes) != 1:
            raise ValueError(f"the committee members' {s} networks differ in shape: {sorted(shapes)}")
        n_layers = len(members[0][s])
        stacked.append(
            [
                (torch.stack([m[s][l][0] for m in members]), torch.stack([m[s][l][1] for m in members]))
                for l in range(n_layers)
            ]
        )
    return stacked


def _info_entries(info_path: Path) -> tuple[Path, Path, Path, int]:
    if not info_path.is_file():
        raise FileNotFoundError(f"NeuroChem info file not found: {info_path}")
    lines = [line.strip() for line in info_path.read_text().splitlines() if line.strip()]
    if len(lines) < 4:
        raise ValueError(
            f"{info_path}: expected four lines (AEV constants file, self-energy file, ensemble prefix, "
            f"ensemble size), found {len(lines)}"
        )
    base = info_path.parent
    try:
        size = int(lines[3])
    except ValueError:
        raise ValueError(f"{info_path}: line 4 must be the ensemble size, got {lines[3]!r}") from None
    if size < 1:
        raise ValueError(f"{info_path}: ensemble size must be at least 1")
    return base / lines[0], base / lines[1], base / lines[2], size


def read_neurochem(
    info_file: str | os.PathLike[str],
    members: Optional[Sequence[int]] = None,
    dtype: torch.dtype = torch.float64,
    progress: Progress = None,
) -> AniModel:
    """An :class:`~nnpkit.models.ani.AniModel` from a NeuroChem ``.info`` file.

    ``members`` selects ensemble members (default: all); ``progress`` receives a
    line per member read.
    """
    info_path = Path(info_file)
    const_file, sae_file, prefix, size = _info_entries(info_path)
    aev, species = read_aev_parameters(const_file)
    sae = read_self_energies(sae_file)
    missing = [s for s in species if s not in sae]
    if missing:
        raise ValueError(f"{sae_file}: no self energy for {', '.join(missing)}")
    chosen = list(range(size)) if members is None else list(members)
    if not chosen:
        raise ValueError("no ensemble members chosen: give at least one (e.g. --members 0)")
    for m in chosen:
        if not 0 <= m < size:
            raise ValueError(f"member {m} does not exist: the ensemble has {size} (0..{size - 1})")
    repeated = sorted({m for m in chosen if chosen.count(m) > 1})
    if repeated:
        raise ValueError(f"member(s) {', '.join(map(str, repeated))} chosen more than once: a duplicated member "
                         "would shrink the committee's spread; list each member once")
    networks = []
    for k, m in enumerate(chosen):
        folder = prefix.parent / f"{prefix.name}{m}" / "networks"
        if progress is not None:
            progress(f"reading member {k + 1}/{len(chosen)}: {folder}")
        networks.append({s: read_network(folder / f"ANN-{s}.nnf") for s in species})
    self_energies = [_as_float32(sae[s]) for s in species]
    return AniModel(species, aev, _stack_members(species, networks), self_energies, dtype=dtype)


# ------------------------------------------------------------------ TorchANI objects


def _celu_alpha(activation: torch.nn.Module) -> float:
    name = type(activation).__name__
    if name == "TightCELU":
        return 0.1
    if isinstance(activation, torch.nn.CELU):
        return float(activation.alpha)
    raise ValueError(f"activation {name} is not supported (ANI models use CELU)")


def from_torchani(model: Any, dtype: torch.dtype = torch.float64) -> AniModel:
    """An :class:`~nnpkit.models.ani.AniModel` from a TorchANI 2 ``ANI`` model object
    (``torchani.models.ANI2x()``, ``torchani.neurochem.load_model_from_info_file(...)``),
    an ensemble or a single member."""
    aev_computer = model.aev_computer
    radial, angular = aev_computer.radial, aev_computer.angular
    if type(radial).__name__ != "ANIRadial" or type(angular).__name__ != "ANIAngular":
        raise ValueError(
            f"only TorchANI's standard AEV terms (ANIRadial, ANIAngular) are supported, got "
            f"{type(radial).__name__} and {type(angular).__name__}"
        )
    for term in (radial, angular):
        if type(term.cutoff_fn).__name__ != "CutoffCosine":
            raise ValueError(f"only the cosine cutoff is supported, got {type(term.cutoff_fn).__name__}")
    aev = AevParameters(
        radial_cutoff=float(radial.cutoff),
        radial_eta=float(radial.eta.item()),
        radial_shifts=tuple(float(x) for x in radial.shifts),
        angular_cutoff=float(angular.cutoff),
        angular_eta=float(angular.eta.item()),
        angular_zeta=float(angular.zeta.item()),
        angular_shifts=tuple(float(x) for x in angular.shifts),
        angular_sections=tuple(float(x) for x in angular.sections),
    )
    species = list(model.symbols)
    networks = model.neural_networks
    member_containers = list(networks.members) if hasattr(networks, "members") else [networks]
    members: list[dict[str, Layers]] = []
    alphas = set()
    for container in member_containers:
        member = {}
        for s, net in container.atomics.items():
            alphas.add(_celu_alpha(net.activation))
            layers = list(net.layers) + [net.final_layer]
            member[s] = [
                (
                    layer.weight.detach().cpu(),
                    layer.bias.detach().cpu() if layer.bias is not None else torch.zeros(layer.out_features),
                )
                for layer in layers
            ]
        members.append(member)
    if len(alphas) != 1:
        raise ValueError(f"the networks use different CELU parameters {sorted(alphas)}")
    missing = [s for s in species if s not in members[0]]
    if missing:
        raise ValueError(f"the model has no network for {', '.join(missing)}")
    self_energies = model.energy_shifter.self_energies.detach().cpu().tolist()
    return AniModel(
        species, aev, _stack_members(species, members), self_energies, celu_alpha=alphas.pop(), dtype=dtype
    )


def from_torchani_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    symbols: Sequence[str],
    radial_cutoff: float,
    angular_cutoff: float,
    celu_alpha: float = 0.1,
    dtype: torch.dtype = torch.float64,
) -> AniModel:
    """An :class:`~nnpkit.models.ani.AniModel` from the state dict of a TorchANI 2 ``ANI``
    model. A state dict holds neither the element order nor the cutoffs, so they are
    arguments (ANI-2x: H C N O S F Cl, 5.1, 3.5; ANI-1x and 1ccx: H C N O, 5.2, 3.5)."""
    marker = "aev_computer.radial.shifts"
    prefix = next((k[: -len(marker)] for k in state_dict if k.endswith(marker)), None)
    if prefix is None:
        raise ValueError("not a TorchANI 2 ANI state dict: no '...aev_computer.radial.shifts' entry")

    def get(key: str) -> torch.Tensor:
        if prefix + key not in state_dict:
            raise ValueError(f"the state dict has no entry {prefix + key!r}")
        return state_dict[prefix + key].detach().cpu()

    aev = AevParameters(
        radial_cutoff=float(radial_cutoff),
        radial_eta=float(get("aev_computer.radial.eta").item()),
        radial_shifts=tuple(get("aev_computer.radial.shifts").tolist()),
        angular_cutoff=float(angular_cutoff),
        angular_eta=float(get("aev_computer.angular.eta").item()),
        angular_zeta=float(get("aev_computer.angular.zeta").item()),
        angular_shifts=tuple(get("aev_computer.angular.shifts").tolist()),
        angular_sections=tuple(get("aev_computer.angular.sections").tolist()),
    )
    pattern = re.compile(
        re.escape(prefix)
        + r"neural_networks\.(?:members\.(\d+)\.)?atomics\.([A-Za-z]+)\.(layers\.(\d+)|final_layer)\.weight"
    )
    found: dict[int, dict[str, dict[int, str]]] = {}
    for key in state_dict:
        match = pattern.fullmatch(key)
        if match:
            member = int(match.group(1) or 0)
            order = int(match.group(4)) if match.group(4) is not None else 1 << 30
            found.setdefault(member, {}).setdefault(match.group(2), {})[order] = key[: -len(".weight")]
    if not found:
        raise ValueError("the state dict holds no TorchANI atomic networks ('...atomics.<El>.layers.<n>.weight')")
    members = []
    for m in sorted(found):
        member = {}
        for s in symbols:
            if s not in found[m]:
                raise ValueError(f"member {m} of the state dict has no network for {s}")
            member[s] = []
            for _, base in sorted(found[m][s].items()):
                weight = state_dict[base + ".weight"].detach().cpu()
                bias = state_dict.get(base + ".bias")
                member[s].append((weight, bias.detach().cpu() if bias is not None else torch.zeros(weight.shape[0])))
        members.append(member)
    # The self energies sit outside the networks' prefix (``energy_shifter.self_energies``).
    key = next((k for k in state_dict if k.endswith("energy_shifter.self_energies")), None)
    if key is None:
        raise ValueError("the state dict has no 'energy_shifter.self_energies' entry")
    self_energies = state_dict[key].tolist()
    return AniModel(list(symbols), aev, _stack_members(symbols, members), self_energies, celu_alpha, dtype=dtype)


# ------------------------------------------------------------------ writing model files


def export_ani(
    model: AniModel, output: str | os.PathLike[str], origin: dict[str, Any], min_distance: float | None = None
) -> str:
    """Write an :class:`AniModel` as an nnpkit model file in Angstrom and Hartree.

    ``min_distance`` (Angstrom; ANI files record no training distances) defaults to
    :data:`nnpkit.export.DEFAULT_MIN_DISTANCE`."""
    from ..export import DEFAULT_MIN_DISTANCE, export

    source = "given when the model was converted" if min_distance is not None else (
        "nnpkit's default: ANI files record no training distances")
    return export(model, output, length_unit=LENGTH_UNIT, energy_unit=ENERGY_UNIT, origin=origin,
                  min_distance=DEFAULT_MIN_DISTANCE if min_distance is None else min_distance,
                  min_distance_source=source)


def convert_neurochem(
    info_file: str | os.PathLike[str],
    output: str | os.PathLike[str],
    dtype: torch.dtype = torch.float64,
    members: Optional[Sequence[int]] = None,
    progress: Progress = None,
    min_distance: float | None = None,
) -> str:
    """Convert a NeuroChem ANI model (``.info`` file) into an nnpkit model file."""
    model = read_neurochem(info_file, members=members, dtype=dtype, progress=progress)
    origin = {"kind": "neurochem", "file": Path(info_file).name, "members": members or list(range(model.committee_size))}
    return export_ani(model, output, origin, min_distance)


def convert_torchani(
    source: Any,
    output: str | os.PathLike[str],
    dtype: torch.dtype = torch.float64,
    **state_dict_arguments: Any,
) -> str:
    """Convert a TorchANI model object, or a state dict (then pass ``symbols``,
    ``radial_cutoff``, ``angular_cutoff``), into an nnpkit model file."""
    if isinstance(source, Mapping):
        model = from_torchani_state_dict(source, dtype=dtype, **state_dict_arguments)
        origin = {"kind": "torchani-state-dict"}
    else:
        model = from_torchani(source, dtype=dtype)
        origin = {"kind": "torchani", "class": type(source).__name__}
    return export_ani(model, output, origin)


# ------------------------------------------------------------------ command line


def _run(args) -> int:
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]
    members = None
    if args.members:
        try:
            members = [int(m) for m in args.members.split(",")]
        except ValueError:
            raise ValueError(f"--members must be comma-separated member numbers (e.g. 0,1,2), got "
                             f"{args.members!r}") from None

    def progress(line: str) -> None:
        print(line, file=sys.stderr)

    path = convert_neurochem(args.info_file, args.output, dtype=dtype, members=members, progress=progress,
                             min_distance=args.min_distance)
    from ..model import load

    model = load(path)
    print(
        f"wrote {path}: ANI, species {' '.join(model.species)}, cutoff {model.cutoff} Angstrom, "
        f"committee of {model.committee_size}, {args.dtype}; units Angstrom and Hartree (engines get eV)"
    )
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ani",
        help="an ANI potential in NeuroChem format (ANI-1x, ANI-1ccx, ANI-2x .info file)",
        description="Convert a NeuroChem-format ANI ensemble (the .info file of ANI-1x, ANI-1ccx, ANI-2x) into an "
        "nnpkit model file. The ensemble members stay a committee: engines report the mean energy and "
        "forces and their deviation.",
    )
    p.add_argument("info_file", help="NeuroChem .info file (e.g. resources/ani-2x_8x.info)")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="precision (default float64)")
    p.add_argument("--members", help="comma-separated ensemble members to keep, each once (default: all)")
    p.add_argument("--min-distance", type=float, help="closest pair of atoms engines accept, Angstrom (default 0.5)")
    p.set_defaults(func=_run)


__all__ = [
    "convert_neurochem",
    "convert_torchani",
    "export_ani",
    "from_torchani",
    "from_torchani_state_dict",
    "read_aev_parameters",
    "read_network",
    "read_neurochem",
    "read_self_energies",
]
