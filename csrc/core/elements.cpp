#include "core/elements.h"

#include <array>

#include "core/errors.h"

namespace nnpkit {
namespace {

constexpr int kNumElements = 118;
const std::array<const char*, kNumElements>& symbols() {
  static const std::array<const char*, kNumElements> table = {
      "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P",
      "S", "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
      "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
      "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
      "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re",
      "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
      "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
      "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
  };
  return table;
}

}  // namespace

int atomic_number(const std::string& symbol) {
  const auto& table = symbols();
  for (int z = 1; z <= kNumElements; ++z) {
    if (symbol == table[z - 1]) return z;
  }
  throw InputError("unknown chemical element '" + symbol + "'");
}

std::string element_symbol(int z) {
  if (z < 1 || z > kNumElements) {
    throw InputError("atomic number " + std::to_string(z) + " is not a chemical element (1..118)");
  }
  return symbols()[z - 1];
}

}  // namespace nnpkit
