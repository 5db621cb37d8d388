#include "core/model_metadata.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/elements.h"
#include "core/errors.h"
#include "core/units.h"

namespace nnpkit {

int ModelMetadata::species_index(int z) const {
  const auto it = std::find(atomic_numbers.begin(), atomic_numbers.end(), z);
  return it == atomic_numbers.end() ? -1 : static_cast<int>(it - atomic_numbers.begin());
}

namespace {

[[noreturn]] void fail(const std::string& what) { throw ModelFileError("invalid model metadata: " + what); }

const nlohmann::json& require(const nlohmann::json& doc, const char* key) {
  if (!doc.contains(key)) fail(std::string("missing key '") + key + "'");
  return doc.at(key);
}

double positive_number(const nlohmann::json& doc, const char* key) {
  const auto& v = require(doc, key);
  if (!v.is_number() || !(v.get<double>() > 0.0)) fail(std::string("'") + key + "' must be a positive number");
  return v.get<double>();
}

}  // namespace

ModelMetadata parse_model_metadata(const std::string& json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("nnpkit.json is not valid JSON (") + e.what() + ")");
  }
  if (!doc.is_object()) fail("nnpkit.json must hold a JSON object");

  ModelMetadata m;
  m.json = json_text;
  const auto& version = require(doc, "format_version");
  if (!version.is_number_integer()) fail("'format_version' must be an integer");
  m.format_version = version.get<int>();
  if (m.format_version < 1 || m.format_version > kModelFormatVersion) {
    throw ModelFileError("unsupported model format version " + std::to_string(m.format_version) +
                         ": this nnpkit reads versions 1.." + std::to_string(kModelFormatVersion) +
                         " (upgrade nnpkit or re-export the model)");
  }

  const auto& species = require(doc, "species");
  if (!species.is_array() || species.empty()) fail("'species' must be a non-empty list of element symbols");
  for (const auto& s : species) {
    if (!s.is_string()) fail("'species' must contain element symbols");
    const std::string symbol = s.get<std::string>();
    int z = 0;
    try {
      z = atomic_number(symbol);
    } catch (const InputError&) {
      fail("'species' contains '" + symbol + "', which is not a chemical element");
    }
    if (std::find(m.atomic_numbers.begin(), m.atomic_numbers.end(), z) != m.atomic_numbers.end()) {
      fail("'species' lists '" + symbol + "' twice");
    }
    m.species.push_back(symbol);
    m.atomic_numbers.push_back(z);
  }

  m.cutoff = positive_number(doc, "cutoff");
  m.interaction_range = doc.contains("interaction_range") ? positive_number(doc, "interaction_range") : m.cutoff;
  if (m.interaction_range < m.cutoff) fail("'interaction_range' must not be smaller than 'cutoff'");

  const auto& length_unit = require(doc, "length_unit");
  const auto& energy_unit = require(doc, "energy_unit");
  if (!length_unit.is_string() || !energy_unit.is_string()) fail("units must be strings");
  m.length_unit = length_unit.get<std::string>();
  m.energy_unit = energy_unit.get<std::string>();
  try {
    m.angstrom_per_length_unit = length_unit_in_angstrom(m.length_unit);
    m.ev_per_energy_unit = energy_unit_in_ev(m.energy_unit);
  } catch (const InputError& e) {
    fail(e.what());
  }
  if (doc.contains("length_unit_in_angstrom")) m.angstrom_per_length_unit = positive_number(doc, "length_unit_in_angstrom");
  if (doc.contains("energy_unit_in_ev")) m.ev_per_energy_unit = positive_number(doc, "energy_unit_in_ev");

  const auto& dtype = require(doc, "dtype");
  if (!dtype.is_string() || (dtype != "float32" && dtype != "float64")) {
    fail("'dtype' must be \"float32\" or \"float64\"");
  }
  m.dtype = dtype.get<std::string>();

  if (doc.contains("committee_size")) {
    const auto& c = doc.at("committee_size");
    if (!c.is_number_integer() || c.get<int>() < 1) fail("'committee_size' must be a positive integer");
    m.committee_size = c.get<int>();
  }
  if (doc.contains("min_distance")) {
    const auto& d = doc.at("min_distance");
    if (!d.is_number() || d.get<double>() < 0.0) fail("'min_distance' must be a non-negative number");
    m.min_distance = d.get<double>();
  }
  if (doc.contains("min_distance_source") && doc.at("min_distance_source").is_string()) {
    m.min_distance_source = doc.at("min_distance_source").get<std::string>();
  }
  return m;
}

}  // namespace nnpkit
