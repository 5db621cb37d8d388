// Chemical element symbols and atomic numbers.
#pragma once

#include <string>

namespace nnpkit {

// Atomic number of an element symbol ("Cu" -> 29); throws InputError if unknown.
int atomic_number(const std::string& symbol);
// Symbol of an atomic number (29 -> "Cu"); throws InputError outside 1..118.
std::string element_symbol(int z);

}  // namespace nnpkit
