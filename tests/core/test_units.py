"""The core's unit table equals ASE's (CODATA 2014) to the last bit."""

import pytest
from ase import units

from nnpkit import _core


@pytest.mark.parametrize("name, value", [("Ang", 1.0), ("Bohr", units.Bohr), ("nm", units.nm), ("m", units.m)])
def test_length_units(name, value):
    assert _core.length_unit_in_angstrom(name) == value


@pytest.mark.parametrize(
    "name, value",
    [("eV", 1.0), ("Hartree", units.Hartree), ("Ry", units.Rydberg), ("kcal/mol", units.kcal / units.mol),
     ("kJ/mol", units.kJ / units.mol), ("J", units.J)],
)
def test_energy_units(name, value):
    assert _core.energy_unit_in_ev(name) == pytest.approx(value, rel=1e-15)


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="unknown length unit 'parsec'"):
        _core.length_unit_in_angstrom("parsec")
