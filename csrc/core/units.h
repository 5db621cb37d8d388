// Length and energy units by name (ASE's names, CODATA 2014 values as in
// ase.units), so that models declare their units and engines convert.
#pragma once

#include <string>
#include <vector>

namespace nnpkit {

// Size of one `name` in Angstrom; throws InputError naming the unit if unknown.
double length_unit_in_angstrom(const std::string& name);
// Size of one `name` in eV; throws InputError naming the unit if unknown.
double energy_unit_in_ev(const std::string& name);

std::vector<std::string> known_length_units();
std::vector<std::string> known_energy_units();

}  // namespace nnpkit
