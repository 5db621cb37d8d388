#include "core/units.h"

#include <map>

#include "core/errors.h"

namespace nnpkit {
namespace {

// Same constants and the same arithmetic as ase.units (CODATA 2014), so that
// conversions agree with ASE to the last bit.
constexpr double kElementaryCharge = 1.6021766208e-19;  // C
constexpr double kAvogadro = 6.022140857e23;
constexpr double kBohr = 0.5291772105638411;       // Angstrom
constexpr double kHartree = 27.211386024367243;    // eV

const std::map<std::string, double>& length_units() {
  static const std::map<std::string, double> units = {
      {"Ang", 1.0},   {"Angstrom", 1.0}, {"A", 1.0},     {"nm", 10.0},    {"pm", 0.01},
      {"Bohr", kBohr}, {"bohr", kBohr},   {"m", 1.0e10}, {"cm", 1.0e8},  {"um", 1.0e4},
  };
  return units;
}

const std::map<std::string, double>& energy_units() {
  const double kJ = 1000.0 / kElementaryCharge;
  const double kcal = 4.184 * kJ;
  static const std::map<std::string, double> units = {
      {"eV", 1.0},
      {"meV", 1.0e-3},
      {"Hartree", kHartree},
      {"Ha", kHartree},
      {"Ry", kHartree / 2.0},
      {"kcal/mol", kcal / kAvogadro},
      {"kJ/mol", kJ / kAvogadro},
      {"J", 1.0 / kElementaryCharge},
      {"erg", 1.0e-7 / kElementaryCharge},
      {"fJ", 1.0e-15 / kElementaryCharge},  // LAMMPS units micro (picogram um^2/us^2)
      {"zJ", 1.0e-21 / kElementaryCharge},  // LAMMPS units nano (attogram nm^2/ns^2)
  };
  return units;
}

template <typename Map>
std::string names_of(const Map& m) {
  std::string out;
  for (const auto& kv : m) out += (out.empty() ? "" : ", ") + kv.first;
  return out;
}

}  // namespace

double length_unit_in_angstrom(const std::string& name) {
  const auto& units = length_units();
  const auto it = units.find(name);
  if (it == units.end()) {
    throw InputError("unknown length unit '" + name + "' (known: " + names_of(units) + ")");
  }
  return it->second;
}

double energy_unit_in_ev(const std::string& name) {
  const auto& units = energy_units();
  const auto it = units.find(name);
  if (it == units.end()) {
    throw InputError("unknown energy unit '" + name + "' (known: " + names_of(units) + ")");
  }
  return it->second;
}

}  // namespace nnpkit
