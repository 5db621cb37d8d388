// The metadata every nnpkit model file carries (extra file "nnpkit.json" of the
// TorchScript archive), parsed and validated before anything is evaluated.
// docs/model-contract.md is the written specification.
#pragma once

#include <string>
#include <vector>

namespace nnpkit {

constexpr int kModelFormatVersion = 1;
constexpr const char* kMetadataFileName = "nnpkit.json";

struct ModelMetadata {
  int format_version = kModelFormatVersion;
  std::vector<std::string> species;   // element symbols in model order
  std::vector<int> atomic_numbers;    // same order
  double cutoff = 0.0;                // one interaction, model length unit
  double interaction_range = 0.0;     // cutoff x message-passing layers
  std::string length_unit = "Ang";
  std::string energy_unit = "eV";
  // One model unit in Angstrom and eV: from the names above, or exactly as the
  // optional keys length_unit_in_angstrom / energy_unit_in_ev give them (n2p2's
  // cflength and cfenergy, so that results match a user's n2p2 runs digit for digit).
  double angstrom_per_length_unit = 1.0;
  double ev_per_energy_unit = 1.0;
  std::string dtype = "float64";
  int committee_size = 1;
  double min_distance = 0.0;          // model length unit; closer pairs are refused
  std::string min_distance_source;    // where min_distance came from ("the closest pair of the training data")
  std::string json;                   // the whole document, for callers that want more keys

  // Index of an atomic number in `species`, or -1.
  int species_index(int atomic_number) const;
};

// Parses and validates; throws ModelFileError naming the offending key.
ModelMetadata parse_model_metadata(const std::string& json_text);

}  // namespace nnpkit
