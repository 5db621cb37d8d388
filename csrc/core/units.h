// Length and energy units by name (ASE's names, CODATA 2014 values as in
// ase.units), so that models declare their units and engines convert. The one
// place of unit constants in the C++ code: engines name their units (LAMMPS unit
// styles, OpenMM's nm and kJ/mol) and the core converts.
#pragma once

#include <string>

namespace nnpkit {

// Size of one `name` in Angstrom; throws InputError naming the unit if unknown.
double length_unit_in_angstrom(const std::string& name);
// Size of one `name` in eV; throws InputError naming the unit if unknown.
double energy_unit_in_ev(const std::string& name);

}  // namespace nnpkit
