"""Training configuration: dataclasses, loaded from YAML or TOML (or a dict).

Every section and key is checked when the file is read, so a typo fails at the
start with the list of known keys rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    """What to train. ``type`` is a registered model type (see :mod:`nnpkit.train.models`):
    ``behler_parrinello``, ``ani`` or ``message_passing``."""

    type: str = "behler_parrinello"
    species: list[str] | None = None  # default: the elements present in the data, by atomic number
    cutoff: float = 5.0  # for ani: the radial cutoff
    # Behler-Parrinello: arguments of SymmetryFunctionSet.standard
    symmetry_functions: dict[str, Any] = field(default_factory=dict)
    # ANI: arguments of AevParameters.standard besides the radial cutoff (angular_cutoff,
    # n_radial, n_angular, n_sections, radial_eta, angular_eta, angular_zeta, r_min)
    aev: dict[str, Any] = field(default_factory=dict)
    # per-element networks (Behler-Parrinello and ANI)
    hidden: list[int] = field(default_factory=lambda: [16, 16])
    activation: str | None = None  # Behler-Parrinello: tanh (default), softplus, silu, celu, gelu
    celu_alpha: float = 0.1  # ANI networks use CELU(alpha)
    # message passing
    n_layers: int = 2
    features: int = 16
    n_basis: int = 12


@dataclass
class DataConfig:
    """Where the reference data come from. ``train`` (and ``validation``, ``test``) are
    files or lists of files: anything ASE reads (extxyz, ASE databases, ...) or n2p2
    ``input.data`` (recognized by its content, or with ``format: n2p2``). ``index``
    selects structures of every file in ASE's index syntax, n2p2 files too
    (:func:`nnpkit.io.read_structures`): ``"3"`` is the fourth structure, ``"-1"`` the
    last, ``":12"`` the first twelve."""

    train: list[str] = field(default_factory=list)
    validation: list[str] = field(default_factory=list)  # default: a random fraction of train
    test: list[str] = field(default_factory=list)  # reported with the final (committee) model
    validation_fraction: float = 0.1
    format: str | None = None  # ASE format name, or "n2p2"; default: guessed from the name and contents
    index: str = ":"  # ASE's index syntax (string2index), for every format
    length_unit: str = "Ang"  # units of the files; converted to Angstrom and eV
    energy_unit: str = "eV"


@dataclass
class LossConfig:
    """Gaussian negative log-likelihood: squared errors divided by their expected noise.

    loss = mean_s ((E_s - E_s_ref) / N_s / sigma_energy)^2
         + force_weight * mean_(i,c) ((F_ic - F_ic_ref) / sigma_forces)^2
         + stress_weight * mean_(s,v) ((S_sv - S_sv_ref) / sigma_stress)^2
    """

    sigma_energy: float = 0.002  # eV/atom
    sigma_forces: float = 0.05  # eV/Angstrom
    force_weight: float = 1.0
    stress_weight: float = 0.0
    sigma_stress: float = 0.001  # eV/Angstrom^3


@dataclass
class TrainingConfig:
    epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    # "plateau" (factor, patience, min_lr), "exponential" (gamma per epoch), "cosine", or "none"
    lr_schedule: str = "plateau"
    lr_factor: float = 0.5
    lr_patience: int = 10
    lr_gamma: float = 0.98
    min_learning_rate: float = 1e-5
    early_stopping_patience: int = 30  # epochs without validation improvement; 0 disables
    seed: int = 0
    dtype: str = "float64"
    committee: int = 1  # members trained with different seeds and splits, exported as one model
    checkpoint_every: int = 1  # epochs
    # Training steps are small tensor operations: one thread is usually fastest, and several
    # threads on a shared, busy machine can be 100x slower (spinning OpenMP barriers).
    threads: int = 1
    progress: bool = True


@dataclass
class OutputConfig:
    directory: str = "training"
    model: str = "model.pt"  # relative to directory unless absolute
    plots: bool = True


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    base_directory: str = "."  # paths in the file are relative to the file's folder

    def resolve(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(self.base_directory, path))

    @property
    def output_directory(self) -> str:
        return self.resolve(self.output.directory)

    @property
    def model_path(self) -> str:
        return self.model_path_in(self.output_directory)

    def model_path_in(self, directory: str) -> str:
        return os.path.normpath(os.path.join(directory, self.output.model))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("base_directory")
        return d


_SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "loss": LossConfig,
    "training": TrainingConfig,
    "output": OutputConfig,
}
_LIST_OF_PATHS = {"train", "validation", "test"}


def _section(name: str, cls: type, values: Any) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"config section '{name}' must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"config section '{name}': unknown key(s) {unknown} (known: {sorted(known)})")
    kwargs = {}
    for key, value in values.items():
        if key in _LIST_OF_PATHS and isinstance(value, str):
            value = [value]
        default = getattr(cls(), key)
        if isinstance(default, dict) and not isinstance(value, dict):
            raise ValueError(f"config '{name}.{key}' must be a mapping, got {value!r}")
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"config '{name}.{key}' must be true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"config '{name}.{key}' must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int):
                raise ValueError(f"config '{name}.{key}' must be an integer, got {value!r}")
            value = type(default)(value)
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any], base_directory: str = ".") -> TrainConfig:
    """Build and check a :class:`TrainConfig` from nested mappings."""
    if not isinstance(values, dict):
        raise ValueError("a training config must be a mapping of sections (model, data, loss, training, output)")
    unknown = sorted(set(values) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"config: unknown section(s) {unknown} (known: {sorted(_SECTIONS)})")
    config = TrainConfig(
        **{name: _section(name, cls, values.get(name)) for name, cls in _SECTIONS.items()},
        base_directory=base_directory,
    )
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    """Reject settings that cannot work, naming the key."""
    loss, training, data = config.loss, config.training, config.data
    if not data.train:
        raise ValueError("config 'data.train' is empty: name at least one file of reference structures")
    for key in ("sigma_energy", "sigma_forces", "sigma_stress"):
        if getattr(loss, key) <= 0:
            raise ValueError(f"config 'loss.{key}' must be positive")
    for key in ("force_weight", "stress_weight"):
        if getattr(loss, key) < 0:
            raise ValueError(f"config 'loss.{key}' must not be negative")
    if training.dtype not in ("float32", "float64"):
        raise ValueError(f"config 'training.dtype' must be float32 or float64, got {training.dtype!r}")
    if training.lr_schedule not in ("plateau", "exponential", "cosine", "none"):
        raise ValueError(
            f"config 'training.lr_schedule' must be plateau, exponential, cosine or none, got {training.lr_schedule!r}"
        )
    for key in ("epochs", "batch_size", "committee", "checkpoint_every", "threads"):
        if getattr(training, key) < 1:
            raise ValueError(f"config 'training.{key}' must be at least 1")
    if training.learning_rate <= 0:
        raise ValueError("config 'training.learning_rate' must be positive")
    if not data.validation and not 0.0 < data.validation_fraction < 1.0:
        raise ValueError("config 'data.validation_fraction' must lie strictly between 0 and 1 "
                         "(or give 'data.validation' files)")
    if config.model.cutoff <= 0:
        raise ValueError("config 'model.cutoff' must be positive")
    model = config.output.model
    if not model or os.path.isabs(model) or os.path.normpath(model).split(os.sep)[0] == "..":
        raise ValueError(
            f"config 'output.model' must be a file name inside the output folder (e.g. 'model.pt'), got {model!r}: "
            "trained models are written only inside output.directory (or --output); copy the file elsewhere "
            "yourself"
        )


def load_config(path: str | os.PathLike[str]) -> TrainConfig:
    """Read a training config from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

    Relative paths inside it are taken relative to the file's folder.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"training config not found: {path}")
    if path.endswith(".toml"):
        import tomllib

        with open(path, "rb") as handle:
            try:
                values = tomllib.load(handle)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: not valid TOML: {error}") from None
    elif path.endswith((".yaml", ".yml")):
        import yaml

        with open(path) as handle:
            try:
                values = yaml.safe_load(handle)
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
                problem = getattr(error, "problem", None) or str(error).splitlines()[0]
                raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
    else:
        raise ValueError(f"{path}: config files must end in .yaml, .yml or .toml")
    try:
        return config_from_dict(values or {}, base_directory=os.path.dirname(os.path.abspath(path)))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
