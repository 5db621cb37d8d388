#include "core/symmetry_function_table.h"

#include "core/symmetry_functions.h"

namespace nnpkit {

std::vector<SymmetryFunctionRow> read_symmetry_function_table(const torch::Tensor& sf_int,
                                                              const torch::Tensor& sf_real) {
  const auto si = sf_int.accessor<int64_t, 2>();
  const auto sr = sf_real.accessor<double, 2>();
  const int64_t n_sf = sf_int.size(0);
  const bool has_extra_int = sf_int.size(1) > kSfIntColumnsBasic;
  const bool has_extra_real = sf_real.size(1) > kSfRealColumnsBasic;
  std::vector<SymmetryFunctionRow> rows;
  rows.reserve(n_sf);
  for (int64_t s = 0; s < n_sf; ++s) {
    SymmetryFunctionRow row;
    row.centre = si[s][0];
    row.type = static_cast<int>(si[s][1]);
    row.neighbor1 = si[s][2];
    row.neighbor2 = si[s][3];
    row.column = si[s][5];
    const int64_t kind = si[s][4];
    const bool compact = is_compact_type(row.type);
    TORCH_CHECK(is_known_type(row.type), "symmetry function ", s, ": unsupported type ", row.type,
                " (supported: 2, 3, 9, 12, 13, 20-25)");
    TORCH_CHECK(row.centre >= 0 && row.neighbor1 >= 0, "symmetry function ", s, ": negative element index");
    if (compact) {
      TORCH_CHECK(kind >= 0 && kind < kNumCoreFunctionTypes, "symmetry function ", s, ": unknown core function ",
                  kind);
      TORCH_CHECK(sr[s][1] < sr[s][2], "symmetry function ", s, ": need rl < rc");
    } else {
      TORCH_CHECK(kind >= 0 && kind < kNumCutoffTypes, "symmetry function ", s, ": unknown cutoff type ", kind);
      TORCH_CHECK(sr[s][2] > 0.0, "symmetry function ", s, ": cutoff radius must be positive");
      TORCH_CHECK(sr[s][3] >= 0.0 && sr[s][3] < 1.0, "symmetry function ", s, ": need 0 <= alpha < 1");
    }
    SymmetryFunctionParams<double> params{sr[s][0], sr[s][1], sr[s][2], sr[s][3],
                                          sr[s][4], sr[s][5], static_cast<int>(kind)};
    if (has_extra_real) {
      params.weight = sr[s][6];
      params.angle_left = sr[s][7];
      params.angle_right = sr[s][8];
    }
    if (has_extra_int) params.asymmetric = si[s][6] != 0;
    if (!is_radial_type(row.type)) {
      TORCH_CHECK(row.neighbor2 >= 0, "angular symmetry function ", s, " needs two neighbour elements");
      if (compact) {
        TORCH_CHECK(params.angle_left < params.angle_right, "symmetry function ", s,
                    ": need angle_left < angle_right");
      }
    }
    row.params = prepare_params<double>(params);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace nnpkit
