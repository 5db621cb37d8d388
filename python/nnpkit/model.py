"""Loading and evaluating nnpkit model files from Python."""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any, Sequence

import numpy as np

from . import _core

_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


class ExtrapolationWarning(UserWarning):
    """Atoms whose descriptors lie outside the model's training range: the
    prediction for them is an extrapolation and may be unreliable."""


_PACKAGE_DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def caller_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` that points at the first frame
    outside nnpkit and ASE, i.e. at the user's line (``atoms.get_potential_energy()``
    or ``model.compute(...)``), not at nnpkit's own source."""
    import ase

    skipped = (_PACKAGE_DIRECTORY, os.path.dirname(os.path.abspath(ase.__file__)))
    frame, level = sys._getframe(1), 1  # level 1: the function calling warnings.warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame, level = frame.f_back, level + 1
    return level


def _atomic_numbers(numbers: Sequence[int] | Sequence[str]) -> list[int]:
    if isinstance(numbers, np.ndarray) and numbers.ndim == 1 and numbers.dtype.kind in "iu":
        # ase.Atoms' numbers: one conversion (a Python loop per atom was 1 ms of a
        # 5,000-atom call).
        return numbers.astype(np.int64, copy=False).tolist()
    from ase.data import atomic_numbers as table

    out = []
    for i, n in enumerate(numbers):
        if isinstance(n, str):
            if n not in table:
                raise _core.InputError(f"atom {i}: unknown chemical element '{n}'")
            out.append(int(table[n]))
        else:
            out.append(int(n))
    return out


class Model:
    """An nnpkit model file, loaded and validated.

    Args:
        path: the model file.
        min_distance: overrides the model's ``min_distance`` (Angstrom): pairs closer
            than it are refused with :class:`nnpkit.AtomsTooCloseError`. The model's
            own value is the closest pair of its training data; lower it only
            deliberately (0 accepts anything but coincident atoms).
        max_neighbors: neighbours per atom (on average) beyond which a structure is
            refused (default 1000): a guard against a wrong cutoff or wrong units.
        max_images: periodic images of the cell the cutoff may span (default 100000).

    Attributes:
        metadata: the file's metadata (``species``, ``cutoff``, ``interaction_range``,
            ``length_unit``, ``energy_unit``, ``dtype``, ``committee_size``, ...).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        min_distance: float | None = None,
        max_neighbors: int | None = None,
        max_images: int | None = None,
    ) -> None:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"model file not found: {path}")
        self.path = path
        self._core_model = _core.Model(path)
        self.metadata: dict[str, Any] = json.loads(self._core_model.metadata_json)
        self.metadata.setdefault("committee_size", 1)
        self.metadata.setdefault("interaction_range", self.metadata["cutoff"])
        if min_distance is not None:
            if not min_distance >= 0:
                raise ValueError(f"min_distance must be a non-negative length in Angstrom, got {min_distance}")
            self._core_model.set_min_distance(float(min_distance))
        for name, value in (("max_neighbors", max_neighbors), ("max_images", max_images)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self._core_model.set_neighbor_limits(max_images=max_images or 0, max_neighbors=max_neighbors or 0)

    @property
    def min_distance(self) -> float:
        """Closest pair of atoms the model accepts, in Angstrom (see ``min_distance=``)."""
        return float(self._core_model.min_distance)

    @property
    def species(self) -> list[str]:
        """Element symbols the model handles, in model order."""
        return list(self.metadata["species"])

    @property
    def cutoff(self) -> float:
        """Neighbour cutoff of one interaction, in Angstrom."""
        return float(self._core_model.cutoff)

    @property
    def interaction_range(self) -> float:
        """How far information travels (cutoff x message-passing layers), in Angstrom."""
        return float(self._core_model.interaction_range)

    @property
    def provides_extrapolation(self) -> bool:
        """Whether the model can flag atoms outside its training range."""
        return bool(self._core_model.provides_extrapolation)

    @property
    def committee_size(self) -> int:
        return int(self.metadata["committee_size"])

    def compute(
        self,
        atoms: Any = None,
        *,
        positions: np.ndarray | None = None,
        numbers: Sequence[int] | Sequence[str] | None = None,
        cell: np.ndarray | None = None,
        pbc: bool | Sequence[bool] | None = None,
        atom_virials: bool = False,
        committee_statistics: bool = False,
        extrapolation: bool = True,
        forces: bool = True,
        committee: bool | None = None,
    ) -> dict[str, Any]:
        """Energy, forces, stress and per-atom quantities of one structure.

        Pass an ``ase.Atoms`` or the keyword arrays ``positions`` (Angstrom),
        ``numbers`` (atomic numbers or symbols), ``cell`` (rows are lattice vectors)
        and ``pbc``. Results are float64 arrays in ASE units whatever the model's
        own units and dtype:

        - ``energy`` (eV), ``energies`` (per atom, eV), ``forces`` (eV/Angstrom),
        - ``virial`` (3x3, eV; W = -sum_e r_e (x) dE/dr_e),
        - ``stress`` (Voigt order xx yy zz yz xz xy, eV/Angstrom^3, ASE sign) for
          structures periodic in all three directions,
        - ``atom_virials`` ([N, 3, 3], eV) if requested,
        - for committees with ``committee_statistics=True``: ``energy_std``,
          ``member_energies`` and, with forces, ``forces_std`` ([N]: the per-atom
          force deviation sqrt(mean_m |F_m - <F>|^2), as DeePMD-kit defines it),
          ``member_forces`` and ``member_virials``. Off by default: the mean energy
          and forces of a committee need one backward pass, the members' forces
          one per member (ANI models: one for all members, still more work),
        - for models that know their training range (converted n2p2 models,
          Behler-Parrinello models trained by ``nnpkit train``) and
          ``extrapolation=True``: ``extrapolation_counts`` ([N] int, how many
          descriptors of each atom lie outside the training range); an
          :class:`ExtrapolationWarning` is issued when any is non-zero.

        ``forces=False`` computes energies only, with no backward pass: the result
        then has no ``forces``, ``virial``, ``stress`` or per-member forces.

        ``committee=`` is the old name of ``committee_statistics=`` (deprecated).
        """
        if committee is not None:
            warnings.warn(
                "Model.compute(committee=...) is deprecated: use committee_statistics=...",
                DeprecationWarning,
                stacklevel=2,
            )
            committee_statistics = bool(committee)
        if atoms is not None:
            if positions is not None or numbers is not None:
                raise TypeError("pass either an ase.Atoms or positions/numbers, not both")
            positions = atoms.get_positions()
            numbers = atoms.get_atomic_numbers()
            cell = atoms.cell.array
            pbc = atoms.pbc
        if positions is None or numbers is None:
            raise TypeError("compute() needs an ase.Atoms or positions= and numbers=")
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise _core.InputError(f"positions must have shape [N, 3], got {positions.shape}")
        z = _atomic_numbers(numbers)
        cell_array = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64).reshape(3, 3)
        if pbc is None:
            pbc = False
        pbc_list = [bool(pbc)] * 3 if np.ndim(pbc) == 0 else [bool(p) for p in pbc]
        result = self._core_model.compute(
            positions, z, cell_array, pbc_list, atom_virials=atom_virials, committee_statistics=committee_statistics,
            extrapolation=extrapolation, forces=forces,
        )
        counts = result.get("extrapolation_counts")
        if counts is not None and counts.any():
            atoms_out = np.nonzero(counts)[0]
            warnings.warn(
                f"{atoms_out.size} of {len(counts)} atoms have descriptors outside the training range "
                f"({int(counts.sum())} values; first atoms: {', '.join(map(str, atoms_out[:5]))}): "
                "the model extrapolates there",
                ExtrapolationWarning,
                stacklevel=caller_stacklevel(),
            )
        if forces and all(pbc_list):
            volume = abs(np.linalg.det(cell_array))
            stress = -result["virial"] / volume
            result["stress"] = np.array([stress[a, b] for a, b in _VOIGT])
        return result

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"nnpkit.Model({self.path!r}, species={m['species']}, cutoff={m['cutoff']} {m['length_unit']}, "
            f"committee_size={m['committee_size']})"
        )


def load(path: str | os.PathLike[str], **options: Any) -> Model:
    """Load an nnpkit model file (TorchScript with ``nnpkit.json`` metadata); ``options``
    as for :class:`Model` (``min_distance``, ``max_neighbors``, ``max_images``)."""
    return Model(path, **options)
