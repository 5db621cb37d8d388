"""Reading structures from any file ASE reads or from n2p2 structure data: the one
reader behind ``nnpkit eval`` and ``nnpkit train``.

Which structures: an index string in ASE's syntax, read with
``ase.io.formats.string2index`` for every format, n2p2's included: ``"3"`` is the
structure at position 3, ``"-1"`` the last one, ``":"`` all, ``"0:10"``, ``"::2"``
and ``"-5:"`` slices as in Python.
"""

from __future__ import annotations

import os
from typing import Any

from .n2p2_data import is_n2p2_data, read_n2p2_data


def parse_index(index: str, name: str = "index") -> int | slice:
    """ASE's index syntax (``string2index``): ``3``, ``-1``, ``:``, ``0:10``, ``::2``.
    ValueError naming ``name`` (the option it came from) for anything else."""
    from ase.io.formats import string2index

    problem = ValueError(f"{name} must be a structure number (0, -1, ...) or a slice (':', '0:10', '::2'), "
                         f"got {index!r}")
    try:
        selection = string2index(index.strip())
    except (ValueError, TypeError):
        raise problem from None
    if isinstance(selection, bool) or not isinstance(selection, (int, slice)):
        raise problem  # string2index passes other strings on (database queries): not for files
    return selection


def reads_as_n2p2(path: str | os.PathLike[str], file_format: str | None) -> bool:
    """Whether :func:`read_structures` reads ``path`` as n2p2 structure data: when told
    (``file_format='n2p2'``) or, with no format given, when its first word is 'begin'."""
    return file_format == "n2p2" or (file_format is None and is_n2p2_data(path))


def read_structures(
    path: str | os.PathLike[str],
    index: str = ":",
    file_format: str | None = None,
    n2p2_units: tuple[str, str] = ("Ang", "eV"),
    index_name: str = "index",
    format_name: str = "format",
) -> list[tuple[int, Any]]:
    """``(position in the file, ase.Atoms)`` of the structures ``index`` selects
    (:func:`parse_index`).

    ``file_format`` is 'n2p2' or an ASE format name (None: n2p2 data is recognized by
    its content, other formats are guessed by ASE). n2p2 files carry no units:
    ``n2p2_units`` (length, energy; ASE names) says which they are in, and they are
    converted to Angstrom and eV; other files are read as ASE reads them. Reference
    energies, forces and stresses are attached as ASE does (a SinglePointCalculator).
    ``index_name`` and ``format_name`` name the options in messages. Raises
    FileNotFoundError or ValueError with the file name for anything unreadable, an
    index out of range or selecting nothing.
    """
    import ase.io

    selection = parse_index(index, index_name)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"structure file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a structure file")
    if reads_as_n2p2(path, file_format):
        structures = read_n2p2_data(path, *n2p2_units)
    else:
        if file_format is not None:
            from ase.io.formats import ioformats

            if file_format not in ioformats:
                raise ValueError(f"unknown {format_name} {file_format!r}: use 'n2p2' or an ASE format name "
                                 "(extxyz, xyz, vasp, cif, lammps-data, traj, ...)")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{path} is empty: it holds no structures")
        try:
            structures = ase.io.read(path, index=":", format=file_format)
        except Exception as error:  # noqa: BLE001  (ASE raises many types for unreadable files)
            what = f"as {file_format}" if file_format else "(format guessed from the name and contents)"
            reason = str(error) or type(error).__name__
            raise ValueError(f"cannot read {path} {what}: {reason}; give {format_name} if the guess is wrong") from None
    if not structures:
        raise ValueError(f"{path} holds no structures")
    positions = list(range(len(structures)))
    if isinstance(selection, int):
        if not -len(structures) <= selection < len(structures):
            raise ValueError(f"{index_name} {selection} is out of range: {path} holds {len(structures)} structures "
                             f"(0..{len(structures) - 1})")
        chosen = [positions[selection]]
    else:
        chosen = positions[selection]
        if not chosen:
            raise ValueError(f"{index_name} {index} selects none of the {len(structures)} structures of {path}")
    return [(k, structures[k]) for k in chosen]
