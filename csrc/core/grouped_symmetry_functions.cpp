#include "core/grouped_symmetry_functions.h"

#include <ATen/Parallel.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/angular_moments.h"
#include "core/edge_list.h"
#include "core/symmetry_function_table.h"
#include "core/vector_lanes.h"
#include "core/vector_math.h"

namespace nnpkit {
namespace {

// What one radial factor R(r) depends on; functions with equal specs share it.
struct FactorSpec {
  bool compact = false;
  int kind = 0;  // Gaussian: n2p2 cutoff type; compact: core function
  bool asymmetric = false;
  double eta = 0, rs = 0, rc = 0, alpha = 0;
  bool operator==(const FactorSpec& o) const {
    return compact == o.compact && kind == o.kind && asymmetric == o.asymmetric && eta == o.eta && rs == o.rs &&
           rc == o.rc && alpha == o.alpha;
  }
};

FactorSpec factor_spec(const SymmetryFunctionRow& row) {
  const auto& p = row.params;
  FactorSpec s;
  s.compact = is_compact_type(row.type);
  s.kind = p.cutoff_type;
  s.asymmetric = s.compact && p.asymmetric;
  s.eta = s.compact ? 0.0 : p.eta;
  s.rs = p.rs;
  s.rc = p.rc;
  const bool uses_alpha = !s.compact && s.kind != static_cast<int>(CutoffType::Hard) &&
                          s.kind != static_cast<int>(CutoffType::TanhU) && s.kind != static_cast<int>(CutoffType::Tanh);
  s.alpha = uses_alpha ? p.alpha : 0.0;
  return s;
}

// What the angular factor A(cos theta) of a function depends on.
struct AngleSpec {
  bool compact = false;
  int kind = 0;
  double lambda = 0, zeta = 0, left = 0, right = 0;
  bool operator==(const AngleSpec& o) const {
    return compact == o.compact && kind == o.kind && lambda == o.lambda && zeta == o.zeta && left == o.left &&
           right == o.right;
  }
};

AngleSpec angle_spec(const SymmetryFunctionRow& row) {
  const auto& p = row.params;
  AngleSpec s;
  s.compact = is_compact_type(row.type);
  if (s.compact) {
    s.kind = p.cutoff_type;
    s.left = p.angle_left;
    s.right = p.angle_right;
  } else {
    s.lambda = p.lambda;
    s.zeta = p.zeta;
  }
  return s;
}

template <typename S>
int find_or_add(std::vector<S>& specs, const S& spec) {
  const auto it = std::find(specs.begin(), specs.end(), spec);
  if (it != specs.end()) return static_cast<int>(it - specs.begin());
  specs.push_back(spec);
  return static_cast<int>(specs.size()) - 1;
}

// Radial factors evaluated together on one array of distances: Gaussian factors
// that share a cutoff function (same type, rc, alpha) evaluate it once.
struct FactorSet {
  std::vector<FactorSpec> specs;
  std::vector<FactorSpec> cutoffs;  // distinct cutoff functions of the Gaussian specs (eta = rs = 0)
  std::vector<int> cutoff_of;       // per spec: index into cutoffs, -1 for compact specs

  int add(const FactorSpec& spec) { return find_or_add(specs, spec); }
  size_t size() const { return specs.size(); }
  void finish() {
    cutoffs.clear();
    cutoff_of.clear();
    for (const auto& s : specs) {
      if (s.compact) {
        cutoff_of.push_back(-1);
        continue;
      }
      FactorSpec c = s;
      c.eta = 0.0;
      c.rs = 0.0;
      cutoff_of.push_back(find_or_add(cutoffs, c));
    }
  }
};

template <typename T>
struct RadialTerm {
  int64_t column;
  T weight;
  int slot;
  int row;  // the column's row in the centre's Jacobian (multi-seed VJP)
};

template <typename T>
struct AngularTerm {
  int64_t column;
  T norm;  // weight (compact) or weight 2^(1 - zeta) (Gaussian)
  int slot_a, slot_b, angle;
  int r3;  // narrow types: index of the j-k radial factor; wide: -1
  int row;  // the column's row in the centre's Jacobian (multi-seed VJP)
};

// Functions of a centre element over neighbour pairs of elements (sa <= sb).
template <typename T>
struct PairBlock {
  int64_t sa = 0, sb = 0;
  std::vector<AngleSpec> angles;
  FactorSet r3_factors;
  std::vector<AngularTerm<T>> terms;
  bool needs_theta = false;
  // Every function is narrow: a pair (j, k) with r_jk >= r3_rc_max adds nothing,
  // so the driver keeps only the k inside (about half of them in a uniform liquid).
  bool all_narrow = true;
  double r3_rc_max = 0.0;
  std::vector<int> b_slots;  // the slots of neighbour k the functions read
};

// A wide Gaussian angular function of integer zeta, summed through moments
// (angular_moments.h) instead of over pairs.
struct MomentTerm {
  int64_t column;
  double norm;                  // weight 2^(1 - zeta)
  int a, b;                     // moment slots of the pair's two elements (a = b: same element)
  int degree;                   // zeta
  double diagonal;              // (1 + lambda)^zeta: the full sum's j = k terms
  std::vector<double> weights;  // the expansion's w_b, monomial_count(zeta)
};

// The moments of one radial factor (slot) over one element's neighbours.
struct MomentSlot {
  int64_t species;
  int slot;
  int degree;  // the highest zeta of the functions that read it
};

// Radial factors needed for neighbours of one element, and the radial functions.
template <typename T>
struct NeighborTable {
  FactorSet slots;
  std::vector<RadialTerm<T>> radial;
};

template <typename T>
struct CentrePlan {
  std::vector<NeighborTable<T>> neighbors;  // [n_species]
  std::vector<PairBlock<T>> pairs;
  std::vector<MomentTerm> moment_terms;
  std::vector<MomentSlot> moment_slots;
  int moment_degree = 0;  // the highest degree of moment_slots
  std::vector<int64_t> row_columns;  // the distinct output columns of this element, one Jacobian row each
  double rc_max = 0.0;
  size_t max_angles = 0, max_r3 = 0, max_cutoffs = 0, max_slots = 0;
};

template <typename T>
struct GroupedPlan {
  int64_t n_species = 0;
  std::vector<CentrePlan<T>> centres;
};

// Wide Gaussian functions whose (1 + lambda cos)^zeta is a polynomial of low
// degree in cos, with 1 + lambda cos >= 0 (the pair code's clamp never acts).
bool sums_through_moments(const SymmetryFunctionRow& row) {
  const double zeta = row.params.zeta;
  return row.type == static_cast<int>(SymmetryFunctionType::AngularWide) && zeta >= 1.0 &&
         zeta <= kMaxMomentDegree && zeta == std::floor(zeta) && std::abs(row.params.lambda) <= 1.0;
}

template <typename T>
GroupedPlan<T> make_grouped_plan(const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_species,
                                 int64_t n_columns) {
  const std::vector<SymmetryFunctionRow> rows = read_symmetry_function_table(sf_int, sf_real);
  for (const auto& row : rows) {
    n_species = std::max({n_species, row.centre + 1, row.neighbor1 + 1, row.neighbor2 + 1});
    TORCH_CHECK(row.column >= 0 && row.column < n_columns, "a symmetry function column lies outside 0..n_columns-1");
  }
  GroupedPlan<T> plan;
  plan.n_species = n_species;
  plan.centres.resize(n_species);
  for (auto& cp : plan.centres) cp.neighbors.resize(n_species);
  // Per centre element: output column -> Jacobian row (element-weighted functions
  // write one column from several rows of the table).
  std::vector<std::vector<int>> row_of_column(n_species, std::vector<int>(n_columns, -1));
  for (const auto& row : rows) {
    auto& cp = plan.centres[row.centre];
    cp.rc_max = std::max(cp.rc_max, row.params.rc);
    const FactorSpec spec = factor_spec(row);
    if (sums_through_moments(row)) {
      const int64_t lo = std::min(row.neighbor1, row.neighbor2), hi = std::max(row.neighbor1, row.neighbor2);
      const int zeta = static_cast<int>(row.params.zeta);
      const auto moment_slot = [&](int64_t species) {
        const int slot = cp.neighbors[species].slots.add(spec);
        for (size_t q = 0; q < cp.moment_slots.size(); ++q) {
          MomentSlot& m = cp.moment_slots[q];
          if (m.species == species && m.slot == slot) {
            m.degree = std::max(m.degree, zeta);
            return static_cast<int>(q);
          }
        }
        cp.moment_slots.push_back({species, slot, zeta});
        return static_cast<int>(cp.moment_slots.size()) - 1;
      };
      MomentTerm term;
      term.column = row.column;
      term.norm = row.params.angular_norm;
      term.a = moment_slot(lo);
      term.b = moment_slot(hi);
      term.degree = zeta;
      term.diagonal = std::pow(1.0 + row.params.lambda, zeta);
      term.weights = moment_weights(zeta, row.params.lambda);
      cp.moment_terms.push_back(std::move(term));
      cp.moment_degree = std::max(cp.moment_degree, zeta);
      continue;
    }
    // Functions summed over pairs or neighbours have a row in the multi-seed VJP's Jacobian.
    int& jacobian_row = row_of_column[row.centre][row.column];
    if (jacobian_row < 0) {
      jacobian_row = static_cast<int>(cp.row_columns.size());
      cp.row_columns.push_back(row.column);
    }
    if (is_radial_type(row.type)) {
      auto& table = cp.neighbors[row.neighbor1];
      table.radial.push_back({row.column, T(row.params.weight), table.slots.add(spec), jacobian_row});
      continue;
    }
    const int64_t lo = std::min(row.neighbor1, row.neighbor2), hi = std::max(row.neighbor1, row.neighbor2);
    auto block = std::find_if(cp.pairs.begin(), cp.pairs.end(),
                              [&](const PairBlock<T>& b) { return b.sa == lo && b.sb == hi; });
    if (block == cp.pairs.end()) {
      cp.pairs.emplace_back();
      block = cp.pairs.end() - 1;
      block->sa = lo;
      block->sb = hi;
    }
    AngularTerm<T> term;
    term.column = row.column;
    const bool compact = is_compact_type(row.type);
    term.norm = T(compact ? row.params.weight : row.params.angular_norm);
    term.slot_a = cp.neighbors[lo].slots.add(spec);
    term.slot_b = cp.neighbors[hi].slots.add(spec);
    term.angle = find_or_add(block->angles, angle_spec(row));
    term.r3 = is_narrow_type(row.type) ? block->r3_factors.add(spec) : -1;
    term.row = jacobian_row;
    block->needs_theta = block->needs_theta || compact;
    block->all_narrow = block->all_narrow && term.r3 >= 0;
    block->r3_rc_max = std::max(block->r3_rc_max, row.params.rc);
    if (std::find(block->b_slots.begin(), block->b_slots.end(), term.slot_b) == block->b_slots.end()) {
      block->b_slots.push_back(term.slot_b);
    }
    block->terms.push_back(term);
    cp.max_angles = std::max(cp.max_angles, block->angles.size());
    cp.max_r3 = std::max(cp.max_r3, block->r3_factors.size());
  }
  for (auto& cp : plan.centres) {
    for (auto& table : cp.neighbors) table.slots.finish();
    for (auto& block : cp.pairs) block.r3_factors.finish();
    for (const auto& table : cp.neighbors) cp.max_cutoffs = std::max(cp.max_cutoffs, table.slots.cutoffs.size());
    for (const auto& table : cp.neighbors) cp.max_slots = std::max(cp.max_slots, table.slots.size());
    for (const auto& block : cp.pairs) cp.max_cutoffs = std::max(cp.max_cutoffs, block.r3_factors.cutoffs.size());
  }
  return plan;
}

// ---------------------------------------------------------------- factors, vectorisable

// n2p2's cutoff function and its derivative, branch-free for a fixed type.
template <typename T, int CT>
inline void cutoff_simd(T r, T rc, T inv_rc, T rci, T iw, T& f, T& df) {
  if constexpr (CT == static_cast<int>(CutoffType::TanhU) || CT == static_cast<int>(CutoffType::Tanh)) {
    const T t = vtanh_unit<T>(T(1) - r * inv_rc);
    const T t2 = t * t;
    const T t1 = std::tanh(T(1));
    const T pre = CT == static_cast<int>(CutoffType::Tanh) ? T(1) / (t1 * t1 * t1) : T(1);
    f = pre * t * t2;
    df = pre * T(3) * t2 * (t2 - T(1)) * inv_rc;
  } else if constexpr (CT == static_cast<int>(CutoffType::Hard)) {
    f = T(1);
    df = T(0);
  } else {
    const bool inner = r < rci;
    T x = (r - rci) * iw;
    x = inner ? T(0) : (x > T(1) ? T(1) : x);
    T fx, dfx;
    if constexpr (CT == static_cast<int>(CutoffType::Cos)) {
      // pi x lies in [0, pi]: vcos_sin_half_turn vectorises (libm's sincos was a
      // call per neighbour and function cutoff, 4-5% of a copper evaluation).
      const T pi = T(3.14159265358979323846);
      T c, sn;
      vcos_sin_half_turn<T>(pi * x, c, sn);
      fx = T(0.5) * (c + T(1));
      dfx = -T(0.5) * pi * sn;
    } else if constexpr (CT == static_cast<int>(CutoffType::Exp)) {
      core_function_value_and_derivative<T>(static_cast<int>(CoreFunctionType::Exp), x, fx, dfx);
    } else {
      core_function_value_and_derivative<T>(static_cast<int>(CoreFunctionType::Poly1) + CT -
                                                static_cast<int>(CutoffType::Poly1),
                                            x, fx, dfx);
    }
    f = inner ? T(1) : fx;
    df = inner ? T(0) : dfx * iw;
  }
  const bool outside = r >= rc;
  f = outside ? T(0) : f;
  df = outside ? T(0) : df;
}

// Compact function on (left, right) of a fixed core type, branch-free.
template <typename T, int Core, bool Asym>
inline void compact_simd(T a, T centre, T inv_half_width, T& f, T& df) {
  const T u = (a - centre) * inv_half_width;
  const T x = std::fabs(u);
  const T xx = x < T(1) ? x : T(0);  // outside: any harmless point, masked below
  T dfdx;
  if constexpr (Asym) {
    core_function_value_and_derivative<T>(Core, (T(2) - xx) * xx, f, dfdx);
    dfdx *= T(2) - T(2) * xx;
  } else {
    core_function_value_and_derivative<T>(Core, xx, f, dfdx);
  }
  df = (u < T(0) ? -inv_half_width : inv_half_width) * dfdx;
  const bool outside = x >= T(1);
  f = outside ? T(0) : f;
  df = outside ? T(0) : df;
}

// fc[n], dfc[n]: one cutoff function on an array of distances.
template <typename T, int CT>
void cutoff_values(const FactorSpec& s, const T* __restrict r, int64_t count, T* __restrict fc, T* __restrict dfc) {
  const T rc = T(s.rc), inv_rc = T(1) / T(s.rc), rci = T(s.alpha) * T(s.rc);
  const T iw = T(1) / (rc - rci);
#pragma omp simd
  for (int64_t n = 0; n < count; ++n) cutoff_simd<T, CT>(r[n], rc, inv_rc, rci, iw, fc[n], dfc[n]);
}

template <typename T>
void cutoff_values(const FactorSpec& s, const T* r, int64_t count, T* fc, T* dfc) {
  switch (s.kind) {
#define NNPKIT_CUTOFF_CASE(ct) \
  case ct:                     \
    return cutoff_values<T, ct>(s, r, count, fc, dfc);
    NNPKIT_CUTOFF_CASE(0)
    NNPKIT_CUTOFF_CASE(1)
    NNPKIT_CUTOFF_CASE(2)
    NNPKIT_CUTOFF_CASE(3)
    NNPKIT_CUTOFF_CASE(4)
    NNPKIT_CUTOFF_CASE(5)
    NNPKIT_CUTOFF_CASE(6)
    NNPKIT_CUTOFF_CASE(7)
    NNPKIT_CUTOFF_CASE(8)
#undef NNPKIT_CUTOFF_CASE
  }
  TORCH_CHECK(false, "symmetry functions: unknown cutoff type ", s.kind);
}

// F[n] = exp(-eta (r - rs)^2) fc and, with WithDerivative, D[n] = F'(r[n]) / r[n].
template <typename T, bool WithDerivative>
void gaussian_factors(const FactorSpec& s, const T* __restrict r, const T* __restrict inv_r, int64_t count,
                      const T* __restrict fc, const T* __restrict dfc, T* __restrict F, T* __restrict D) {
  const T eta = T(s.eta), rs = T(s.rs);
#pragma omp simd
  for (int64_t n = 0; n < count; ++n) {
    const T dr = r[n] - rs;
    const T g = vexp(-eta * dr * dr);
    F[n] = g * fc[n];
    if constexpr (WithDerivative) D[n] = g * (dfc[n] - T(2) * eta * dr * fc[n]) * inv_r[n];
  }
}

template <typename T, bool WithDerivative, int Core, bool Asym>
void compact_factors(const FactorSpec& s, const T* __restrict r, const T* __restrict inv_r, int64_t count,
                     T* __restrict F, T* __restrict D) {
  const T centre = T(0.5) * (T(s.rs) + T(s.rc)), inv_half = T(1) / (T(0.5) * (T(s.rc) - T(s.rs)));
#pragma omp simd
  for (int64_t n = 0; n < count; ++n) {
    T f, df;
    compact_simd<T, Core, Asym>(r[n], centre, inv_half, f, df);
    F[n] = f;
    if constexpr (WithDerivative) D[n] = df * inv_r[n];
  }
}

template <typename T, bool WithDerivative>
void compact_factors(const FactorSpec& s, const T* r, const T* inv_r, int64_t count, T* F, T* D) {
  switch (s.kind * 2 + (s.asymmetric ? 1 : 0)) {
#define NNPKIT_COMPACT_CASE(core)                                                    \
  case 2 * core:                                                                     \
    return compact_factors<T, WithDerivative, core, false>(s, r, inv_r, count, F, D); \
  case 2 * core + 1:                                                                 \
    return compact_factors<T, WithDerivative, core, true>(s, r, inv_r, count, F, D);
    NNPKIT_COMPACT_CASE(0)
    NNPKIT_COMPACT_CASE(1)
    NNPKIT_COMPACT_CASE(2)
    NNPKIT_COMPACT_CASE(3)
    NNPKIT_COMPACT_CASE(4)
#undef NNPKIT_COMPACT_CASE
  }
  TORCH_CHECK(false, "symmetry functions: unknown core function ", s.kind);
}

// Every factor of a set on r[0..count): factor k at F + k * stride (and D).
// cutoff_scratch holds 2 * set.cutoffs.size() * count values.
template <typename T, bool WithDerivative>
void evaluate_factors(const FactorSet& set, const T* r, const T* inv_r, int64_t count, T* F, T* D, int64_t stride,
                      T* cutoff_scratch) {
  for (size_t c = 0; c < set.cutoffs.size(); ++c) {
    cutoff_values<T>(set.cutoffs[c], r, count, cutoff_scratch + 2 * c * count, cutoff_scratch + (2 * c + 1) * count);
  }
  for (size_t k = 0; k < set.specs.size(); ++k) {
    T* Fk = F + k * stride;
    T* Dk = WithDerivative ? D + k * stride : nullptr;
    const int c = set.cutoff_of[k];
    if (c < 0) {
      compact_factors<T, WithDerivative>(set.specs[k], r, inv_r, count, Fk, Dk);
    } else {
      gaussian_factors<T, WithDerivative>(set.specs[k], r, inv_r, count, cutoff_scratch + 2 * c * count,
                                          cutoff_scratch + (2 * c + 1) * count, Fk, Dk);
    }
  }
}

// A[k] = A(cos[k]) and dA[k] = dA/dcos, zero where the function vanishes.
template <typename T, bool WithDerivative, int Core>
void compact_angles(const AngleSpec& s, const T* __restrict cos_t, const T* __restrict theta, int64_t count,
                    T* __restrict A, T* __restrict dA) {
  const T centre = T(0.5) * (T(s.left) + T(s.right)), inv_half = T(1) / (T(0.5) * (T(s.right) - T(s.left)));
#pragma omp simd
  for (int64_t k = 0; k < count; ++k) {
    T f, df;
    compact_simd<T, Core, false>(theta[k], centre, inv_half, f, df);
    const bool valid = cos_t[k] > T(-1) && cos_t[k] < T(1);
    const T s2 = T(1) - cos_t[k] * cos_t[k];
    A[k] = valid ? f : T(0);
    if constexpr (WithDerivative) dA[k] = valid ? -df / std::sqrt(valid ? s2 : T(1)) : T(0);
  }
}

// Gaussian angular factor (1 + lambda cos)^zeta. M = zeta - 1 >= 0 for integer
// zeta: the power by repeated multiplication, as the reference does (same
// rounding); M = -1: std::pow (any zeta, or an integer without a case).
template <typename T, bool WithDerivative, int M>
void gaussian_angles(const AngleSpec& s, const T* __restrict cos_t, int64_t count, T* __restrict A,
                     T* __restrict dA) {
  const T lambda = T(s.lambda), zeta = T(s.zeta);
  if constexpr (M >= 0) {
#pragma omp simd
    for (int64_t k = 0; k < count; ++k) {
      const T pl = T(1) + lambda * cos_t[k];
      const bool positive = pl > T(0);
      T pz1 = T(1);
      for (int i = 0; i < M; ++i) pz1 *= pl;
      A[k] = positive ? pz1 * pl : T(0);
      if constexpr (WithDerivative) dA[k] = positive ? zeta * lambda * pz1 : T(0);
    }
  } else {
    const int m = static_cast<int>(s.zeta) - 1;
    const bool integer_zeta = static_cast<double>(m + 1) == s.zeta && m >= 0 && m <= 64;
    for (int64_t k = 0; k < count; ++k) {
      const T pl = T(1) + lambda * cos_t[k];
      T pz1 = T(1);
      if (integer_zeta) {
        for (int i = 0; i < m; ++i) pz1 *= pl;
      } else {
        pz1 = pl > T(0) ? std::pow(pl, zeta - T(1)) : T(0);
      }
      A[k] = pl > T(0) ? pz1 * pl : T(0);
      if constexpr (WithDerivative) dA[k] = pl > T(0) ? zeta * lambda * pz1 : T(0);
    }
  }
}

template <typename T, bool WithDerivative>
void angle_factors(const AngleSpec& s, const T* __restrict cos_t, const T* __restrict theta, int64_t count,
                   T* __restrict A, T* __restrict dA) {
  if (s.compact) {
    switch (s.kind) {
      case 0: return compact_angles<T, WithDerivative, 0>(s, cos_t, theta, count, A, dA);
      case 1: return compact_angles<T, WithDerivative, 1>(s, cos_t, theta, count, A, dA);
      case 2: return compact_angles<T, WithDerivative, 2>(s, cos_t, theta, count, A, dA);
      case 3: return compact_angles<T, WithDerivative, 3>(s, cos_t, theta, count, A, dA);
      case 4: return compact_angles<T, WithDerivative, 4>(s, cos_t, theta, count, A, dA);
    }
    TORCH_CHECK(false, "symmetry functions: unknown core function ", s.kind);
  }
  const int m = static_cast<int>(s.zeta) - 1;
  const bool integer_zeta = static_cast<double>(m + 1) == s.zeta && m >= 0;
  switch (integer_zeta ? m : -1) {
#define NNPKIT_ZETA_CASE(m) \
  case m:                   \
    return gaussian_angles<T, WithDerivative, m>(s, cos_t, count, A, dA);
    NNPKIT_ZETA_CASE(0)
    NNPKIT_ZETA_CASE(1)
    NNPKIT_ZETA_CASE(2)
    NNPKIT_ZETA_CASE(3)
    NNPKIT_ZETA_CASE(4)
    NNPKIT_ZETA_CASE(5)
    NNPKIT_ZETA_CASE(7)
    NNPKIT_ZETA_CASE(8)
    NNPKIT_ZETA_CASE(15)
    NNPKIT_ZETA_CASE(16)
    NNPKIT_ZETA_CASE(31)
    NNPKIT_ZETA_CASE(32)
#undef NNPKIT_ZETA_CASE
    default:
      return gaussian_angles<T, WithDerivative, -1>(s, cos_t, count, A, dA);
  }
}

// The neighbours k of a pair partner j with |b_k - a|^2 < rc2: their indices,
// geometry and factors (slots in b_slots) copied to contiguous arrays; returns
// how many. Outputs need room for count + 8 values (AVX-512 stores whole vectors).
template <typename T, bool WithDerivative>
int64_t select_pairs(T ax, T ay, T az, T rc2, const T* bx, const T* by, const T* bz, const T* inv_rb, int64_t n,
                     const std::vector<int>& b_slots, const T* Fb, const T* Db, int64_t fb_stride, int64_t out_stride,
                     int64_t* sel, T* sx, T* sy, T* sz, T* sinv, T* sF, T* sD) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, double>) {
    // Compress 8 lanes at a time (inputs are padded past n).
    const __m512d vax = _mm512_set1_pd(ax), vay = _mm512_set1_pd(ay), vaz = _mm512_set1_pd(az);
    const __m512d vrc2 = _mm512_set1_pd(rc2);
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    int64_t count = 0;
    for (int64_t k = 0; k < n; k += 8) {
      const __m512d x = _mm512_loadu_pd(bx + k), y = _mm512_loadu_pd(by + k), z = _mm512_loadu_pd(bz + k);
      const __m512d dx = _mm512_sub_pd(x, vax), dy = _mm512_sub_pd(y, vay), dz = _mm512_sub_pd(z, vaz);
      const __m512d d2 = _mm512_fmadd_pd(dz, dz, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dx, dx)));
      const __mmask8 tail = n - k >= 8 ? __mmask8(0xff) : __mmask8((1u << (n - k)) - 1u);
      const __mmask8 m = _mm512_mask_cmp_pd_mask(tail, d2, vrc2, _CMP_LT_OQ);
      if (m == 0) continue;
      _mm512_storeu_pd(sx + count, _mm512_maskz_compress_pd(m, x));
      _mm512_storeu_pd(sy + count, _mm512_maskz_compress_pd(m, y));
      _mm512_storeu_pd(sz + count, _mm512_maskz_compress_pd(m, z));
      _mm512_storeu_pd(sinv + count, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(inv_rb + k)));
      const __m512i idx = _mm512_add_epi64(_mm512_set1_epi64(k), lane);
      _mm512_storeu_si512(sel + count, _mm512_maskz_compress_epi64(m, idx));
      for (const int q : b_slots) {
        _mm512_storeu_pd(sF + q * out_stride + count, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(Fb + q * fb_stride + k)));
        if constexpr (WithDerivative) {
          _mm512_storeu_pd(sD + q * out_stride + count,
                           _mm512_maskz_compress_pd(m, _mm512_loadu_pd(Db + q * fb_stride + k)));
        }
      }
      count += __builtin_popcount(static_cast<unsigned>(m));
    }
    return count;
  }
#endif
  int64_t count = 0;
  for (int64_t k = 0; k < n; ++k) {
    const T dx = bx[k] - ax, dy = by[k] - ay, dz = bz[k] - az;
    sel[count] = k;
    count += (dx * dx + dy * dy + dz * dz < rc2) ? 1 : 0;
  }
#pragma omp simd
  for (int64_t k = 0; k < count; ++k) {
    sx[k] = bx[sel[k]];
    sy[k] = by[sel[k]];
    sz[k] = bz[sel[k]];
    sinv[k] = inv_rb[sel[k]];
  }
  for (const int q : b_slots) {
    const T* __restrict from = Fb + q * fb_stride;
    T* __restrict to = sF + q * out_stride;
#pragma omp simd
    for (int64_t k = 0; k < count; ++k) to[k] = from[sel[k]];
    if constexpr (WithDerivative) {
      const T* __restrict dfrom = Db + q * fb_stride;
      T* __restrict dto = sD + q * out_stride;
#pragma omp simd
      for (int64_t k = 0; k < count; ++k) dto[k] = dfrom[sel[k]];
    }
  }
  return count;
}

// ---------------------------------------------------------------- the driver

// An angular function with a non-zero seed for the current pair partner j.
template <typename T>
struct ActiveTerm {
  T sig, sigp;  // seed x norm x F_a(r_ij), and with F_a's derivative
  int term;     // index into the block's terms
};

// One angular function's data for the Jacobian rows of the current j.
template <typename T>
struct JacobianTerm {
  T fa, da;                                   // norm x F_a(r_ij), and with F_a's derivative
  const T *Fb, *Db, *A, *dA, *R, *dR;        // its factors over the k (R, dR null: wide)
  T* j;                                       // its Jacobian row (component x; y, z follow)
};

template <typename T>
struct Workspace {
  std::vector<T> x, y, z, r, inv_r;
  std::vector<int64_t> edge;
  std::vector<T> distance;
  std::vector<T> F, D, cutoff;
  std::vector<T> cos_t, theta, r3, inv_r3, A, dA, R3, dR3;
  std::vector<T> lanes;  // forward: per angular function of a block, kLanes partial sums
  std::vector<ActiveTerm<T>> active;  // VJP: the functions of a block with a non-zero seed
  std::vector<int64_t> selected;
  std::vector<int64_t> near_vectors;  // multi-seed VJP: the vectors of k with a lane inside r3_rc_max
  std::vector<T> sx, sy, sz, sinv_r, sF, sD;  // the selected k's geometry and factors
  std::vector<T> gx, gy, gz, q;
  std::vector<T> pair_u, pair_vj, pair_vk;  // multi-seed VJP: per-pair geometry of one j
  std::vector<JacobianTerm<T>> jacobian_terms;  // multi-seed VJP: a block's functions for one j
  std::vector<T> jacobian;  // multi-seed VJP: [rows, 3, n + kPad], d(column)/d(neighbour vector)
  std::vector<T> seeds;     // multi-seed VJP: one block of seeds, [rows, block]
  // Moment functions (float64): unit vectors, distances, monomials [count, ld],
  // per slot the factors [slots, ld], moments [slots, count], sums of F^2, and the
  // single-seed pass's adjoints and polynomial on the sphere with its derivatives.
  std::vector<double> ux, uy, uz, mr, minv_r, mono, mF, mD, moments, squares, adjoint, adjoint0, sphere, dsphere;
  // The multi-seed pass's adjoints and polynomials, four seeds in the lanes of each vector.
  std::vector<Lanes<double>> lane_adjoint, lane_adjoint0, lane_sphere, lane_dsphere, lane_gradient;
};


// Edge gradients of B seeds at once from one centre's Jacobian (rows r, component
// c, neighbour k at jacobian[(3 r + c) ldj + k], zero beyond n): out(k, m0 + b) =
// sum_r S[r B + b] J[r][c][k], stored into out_edges [E, n_seeds, 3] at edges[k]. Each
// Jacobian vector is loaded once for all B seeds; one seed at a time, every row
// was read per seed and the gradient arrays loaded and stored per row.
template <typename T, int B>
void contract_jacobian(const T* jacobian, int64_t ldj, int64_t rows, const T* S, int64_t n, const int64_t* edges,
                       int64_t n_seeds, int64_t m0, T* out_edges) {
  constexpr int64_t kLanes = 32 / sizeof(T);
  for (int64_t k = 0; k < n; k += kLanes) {
    Lanes<T> acc[3][B] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* jr = jacobian + 3 * r * ldj + k;
      const Lanes<T> jx = load_lanes(jr), jy = load_lanes(jr + ldj), jz = load_lanes(jr + 2 * ldj);
      for (int b = 0; b < B; ++b) {
        const T g = S[r * B + b];
        acc[0][b] += g * jx;
        acc[1][b] += g * jy;
        acc[2][b] += g * jz;
      }
    }
    const int64_t lanes = std::min(kLanes, n - k);
    for (int64_t l = 0; l < lanes; ++l) {
      T* out = out_edges + 3 * (edges[k + l] * n_seeds + m0);
      for (int b = 0; b < B; ++b) {
        out[3 * b] = acc[0][b][l];
        out[3 * b + 1] = acc[1][b][l];
        out[3 * b + 2] = acc[2][b][l];
      }
    }
  }
}

// Seeds contracted together: eight with 32 vector registers (24 sums), else four.
constexpr int kSeedBlock = kVectorRegisters >= 32 ? 8 : 4;

// Forward: values. VectorJacobian: one seed contracted on the fly. MemberJacobian:
// n_seeds seeds [n_seeds, n_centers, n_columns] (committee members); per centre the
// Jacobian of its columns with respect to its neighbours' vectors is built once
// (every pair's and triplet's geometry, factors and per-function terms computed
// once) and then contracted with each seed, giving edge gradients laid out [E, n_seeds, 3].
enum class Pass { Forward, VectorJacobian, MemberJacobian };

// Adds sigma times one moment function's gradient with respect to the moments to
// the adjoints L [slots, count] and the diagonal ones L0 [slots]. V: double for
// one seed, or a vector of several seeds' (one per lane).
template <typename V>
void add_moment_adjoints(const MomentTerm& term, const V& sigma, const double* moments, int count, V* L, V* L0) {
  const double* Ma = moments + term.a * count;
  const double* Mb = moments + term.b * count;
  V* La = L + term.a * count;
  V* Lb = L + term.b * count;
  const int64_t terms = static_cast<int64_t>(term.weights.size());
  if (term.a == term.b) {
    // d/dM_b of (sum w M^2 - diagonal sum F^2) / 2
    for (int64_t j = 0; j < terms; ++j) La[j] += sigma * term.weights[j] * Ma[j];
    L0[term.a] -= sigma * term.diagonal;
  } else {
    for (int64_t j = 0; j < terms; ++j) {
      La[j] += sigma * term.weights[j] * Mb[j];
      Lb[j] += sigma * term.weights[j] * Ma[j];
    }
  }
}

// For each moment slot q with neighbours: its adjoints (L + q * count, folded in place:
// they are read once) as a polynomial on the sphere's basis and that polynomial's
// derivatives (into sphere, dsphere), then gradients(q, basis, b0, cnt) for its neighbours
// b0..b0+cnt. V as in add_moment_adjoints; sphere and dsphere hold the widest basis.
template <typename V, typename T, typename Gradients>
void for_each_moment_slot(const CentrePlan<T>& cp, const std::vector<int64_t>& block_begin, int count, V* L,
                          V* sphere, V* dsphere, Gradients&& gradients) {
  for (int64_t q = 0; q < static_cast<int64_t>(cp.moment_slots.size()); ++q) {
    const MomentSlot& slot = cp.moment_slots[q];
    const int64_t b0 = block_begin[slot.species], cnt = block_begin[slot.species + 1] - b0;
    if (cnt == 0) continue;
    const SphereBasis& basis = SphereBasis::of_degree(slot.degree);
    basis.reduce(L + q * count, sphere);
    basis.derivative(sphere, dsphere);
    gradients(q, basis, b0, cnt);
  }
}

// The centre's moment functions (angular_moments.h): Forward adds their values to
// `row`; VectorJacobian adds seed_row's gradient to w.gx/gy/gz; MemberJacobian adds
// each member's to out_edges [E, n_seeds, 3]. The neighbours (n, grouped by
// element at block_begin) and their radial factors are the driver's.
template <typename T, Pass P>
void moment_functions(const CentrePlan<T>& cp, Workspace<T>& w, int64_t n, const std::vector<int64_t>& block_begin,
                      const std::vector<int64_t>& factor_offset, const std::vector<int64_t>& factor_stride,
                      const T* seed_row, const T* member_seed, int64_t member_stride, int64_t n_seeds, T* row,
                      T* out_edges) {
  constexpr bool kGrad = P != Pass::Forward;
  const int count = monomial_count(cp.moment_degree);
  const int64_t ld = n + 24;  // whole pairs of 8-double vectors past any element's end
  for (auto* v : {&w.ux, &w.uy, &w.uz}) v->assign(ld, 0.0);
  for (auto* v : {&w.mr, &w.minv_r}) v->assign(ld, 1.0);
  // Distances from the components in float64, so that |u| = 1 to float64's
  // rounding for float32 inputs too (the expansion and the gradient assume it).
  for (int64_t k = 0; k < n; ++k) {
    const double x = static_cast<double>(w.x[k]), y = static_cast<double>(w.y[k]), z = static_cast<double>(w.z[k]);
    const double r = std::sqrt(x * x + y * y + z * z), inv_r = 1.0 / r;
    w.mr[k] = r;
    w.minv_r[k] = inv_r;
    w.ux[k] = x * inv_r;
    w.uy[k] = y * inv_r;
    w.uz[k] = z * inv_r;
  }
  w.mono.resize(count * ld);
  evaluate_monomials(w.ux.data(), w.uy.data(), w.uz.data(), ld, count, ld, w.mono.data());

  const int64_t n_slots = static_cast<int64_t>(cp.moment_slots.size());
  w.mF.assign(n_slots * ld, 0.0);
  if (kGrad) w.mD.assign(n_slots * ld, 0.0);
  w.moments.assign(n_slots * count, 0.0);
  w.squares.assign(n_slots, 0.0);
  for (int64_t q = 0; q < n_slots; ++q) {
    const MomentSlot& slot = cp.moment_slots[q];
    const int64_t b0 = block_begin[slot.species], cnt = block_begin[slot.species + 1] - b0;
    const int64_t at = factor_offset[slot.species] + static_cast<int64_t>(slot.slot) * factor_stride[slot.species];
    double* __restrict F = w.mF.data() + q * ld;
    for (int64_t k = 0; k < cnt; ++k) F[b0 + k] = static_cast<double>(w.F[at + k]);
    if constexpr (kGrad) {
      double* __restrict D = w.mD.data() + q * ld;
      for (int64_t k = 0; k < cnt; ++k) D[b0 + k] = static_cast<double>(w.D[at + k]);
    }
    double* __restrict M = w.moments.data() + q * count;
    for (int j = 0; j < monomial_count(slot.degree); ++j) {
      const double* __restrict m = w.mono.data() + j * ld;
      double sum = 0.0;
#pragma omp simd reduction(+ : sum)
      for (int64_t k = b0; k < b0 + cnt; ++k) sum += F[k] * m[k];
      M[j] = sum;
    }
    double square = 0.0;
#pragma omp simd reduction(+ : square)
    for (int64_t k = b0; k < b0 + cnt; ++k) square += F[k] * F[k];
    w.squares[q] = square;
  }

  if constexpr (!kGrad) {
    for (const MomentTerm& term : cp.moment_terms) {
      const double* Ma = w.moments.data() + term.a * count;
      const double* Mb = w.moments.data() + term.b * count;
      double v = 0.0;
      for (size_t j = 0; j < term.weights.size(); ++j) v += term.weights[j] * Ma[j] * Mb[j];
      if (term.a == term.b) v = 0.5 * (v - term.diagonal * w.squares[term.a]);
      row[term.column] += static_cast<T>(term.norm * v);
    }
    return;
  } else if constexpr (P == Pass::MemberJacobian) {
    // Seeds in blocks of four, one per lane: the adjoints, the polynomials on the
    // sphere and their derivatives are formed for the four at once, then every
    // slot's neighbours are read once for the block.
    using V = Lanes<double>;
    constexpr int kBlock = sizeof(V) / sizeof(double);
    const SphereBasis& widest = SphereBasis::of_degree(cp.moment_degree);
    w.lane_adjoint.resize(n_slots * count);
    w.lane_adjoint0.resize(n_slots);
    w.lane_sphere.resize(widest.size());
    w.lane_dsphere.resize(widest.derivative_size());
    for (int64_t m0 = 0; m0 < n_seeds; m0 += kBlock) {
      const int block = static_cast<int>(std::min<int64_t>(kBlock, n_seeds - m0));
      std::fill(w.lane_adjoint.begin(), w.lane_adjoint.end(), V());
      std::fill(w.lane_adjoint0.begin(), w.lane_adjoint0.end(), V());
      bool any = false;
      for (const MomentTerm& term : cp.moment_terms) {
        V sigma = V();
        bool nonzero = false;
        for (int b = 0; b < block; ++b) {
          sigma[b] = static_cast<double>(member_seed[(m0 + b) * member_stride + term.column]) * term.norm;
          nonzero |= sigma[b] != 0.0;
        }
        if (!nonzero) continue;
        any = true;
        add_moment_adjoints(term, sigma, w.moments.data(), count, w.lane_adjoint.data(), w.lane_adjoint0.data());
      }
      if (!any) continue;
      // The block's gradients summed over the slots per neighbour in whole vectors
      // (x, y, z of neighbour k at 3 k), then added to out_edges once: added there
      // per slot, each took twelve lane extracts and scattered read-modify-writes.
      w.lane_gradient.assign(3 * n, V());
      V* __restrict lane_gradient = w.lane_gradient.data();
      const auto slot_gradients = [&](int64_t q, const SphereBasis& basis, int64_t b0, int64_t cnt) {
        moment_gradients_of_seed_lanes(
            basis, w.lane_sphere.data(), w.lane_dsphere.data(), w.lane_adjoint0[q], w.mono.data() + b0, ld, cnt,
            w.mF.data() + q * ld + b0, w.mD.data() + q * ld + b0, w.ux.data() + b0, w.uy.data() + b0,
            w.uz.data() + b0, w.mr.data() + b0, w.minv_r.data() + b0,
            [&](int64_t k, const V& gx, const V& gy, const V& gz) {
              V* g = lane_gradient + 3 * (b0 + k);
              g[0] += gx;
              g[1] += gy;
              g[2] += gz;
            });
      };
      for_each_moment_slot(cp, block_begin, count, w.lane_adjoint.data(), w.lane_sphere.data(),
                           w.lane_dsphere.data(), slot_gradients);
      with_count<kBlock>(block, [&](auto lanes) {  // a compile-time count: whole unrolled rows
        constexpr int kLanesUsed = decltype(lanes)::value;
        for (int64_t k = 0; k < n; ++k) {
          const V* g = lane_gradient + 3 * k;
          T* out = out_edges + 3 * (w.edge[k] * n_seeds + m0);
          for (int b = 0; b < kLanesUsed; ++b) {
            out[3 * b] += static_cast<T>(g[0][b]);
            out[3 * b + 1] += static_cast<T>(g[1][b]);
            out[3 * b + 2] += static_cast<T>(g[2][b]);
          }
        }
      });
    }
  } else {
    // One seed (the single-seed pass): its adjoints, then every slot's neighbours.
    w.adjoint.assign(n_slots * count, 0.0);
    w.adjoint0.assign(n_slots, 0.0);
    bool any = false;
    for (const MomentTerm& term : cp.moment_terms) {
      const double sigma = static_cast<double>(seed_row[term.column]) * term.norm;
      if (sigma == 0.0) continue;
      any = true;
      add_moment_adjoints(term, sigma, w.moments.data(), count, w.adjoint.data(), w.adjoint0.data());
    }
    if (!any) return;
    const SphereBasis& widest = SphereBasis::of_degree(cp.moment_degree);
    w.sphere.resize(widest.size());
    w.dsphere.resize(widest.derivative_size());
    const auto slot_gradients = [&](int64_t q, const SphereBasis& basis, int64_t b0, int64_t cnt) {
      const double* S[1] = {w.sphere.data()};
      const double* dS[1] = {w.dsphere.data()};
      const double L0[1] = {w.adjoint0[q]};
      // One seed, two vectors of neighbours at a time: 8 independent sums (two
      // multiply-adds a cycle, four cycles each).
      moment_gradients<1, 2>(basis, S, dS, L0, w.mono.data() + b0, ld, cnt, w.mF.data() + q * ld + b0,
                             w.mD.data() + q * ld + b0, w.ux.data() + b0, w.uy.data() + b0, w.uz.data() + b0,
                             w.mr.data() + b0, w.minv_r.data() + b0,
                             [&](int64_t k, int, double gx, double gy, double gz) {
                               w.gx[b0 + k] += static_cast<T>(gx);
                               w.gy[b0 + k] += static_cast<T>(gy);
                               w.gz[b0 + k] += static_cast<T>(gz);
                             });
    };
    for_each_moment_slot(cp, block_begin, count, w.adjoint.data(), w.sphere.data(), w.dsphere.data(),
                         slot_gradients);
  }
}

template <typename T, Pass P>
void run_grouped(const GroupedPlan<T>& plan, const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                 const torch::Tensor& species_t, int64_t n_centers, int64_t n_columns, const T* seed, T* out_rows,
                 T* out_edges, int64_t n_seeds = 1) {
  constexpr bool kGrad = P != Pass::Forward;
  constexpr bool kJacobian = P == Pass::MemberJacobian;
  const int64_t n_atoms = species_t.size(0);
  const int64_t* species = species_t.data_ptr<int64_t>();
  const std::vector<int64_t> offsets = centre_offsets(edge_index, n_atoms, "symmetry_functions");
  const int64_t* neighbor = edge_index.data_ptr<int64_t>() + edge_index.size(1);
  const T* vec = edge_vectors.data_ptr<T>();
  const int64_t n_species = plan.n_species;

  // Per-pair loops run over whole vectors of kLanes: arrays carry kLanes of
  // padding whose radial factors are zero, so padded lanes add nothing and no
  // scalar remainder loop runs.
  constexpr int64_t kLanes = 32 / sizeof(T);
  constexpr int64_t kPad = 16;  // >= kLanes, and whole 64-byte reads past an array's end stay inside
  // The multi-seed pass builds its Jacobian rows on whole kWideBytes vectors
  // (64 bytes with AVX-512): its pair counts are rounded to those.
  constexpr int64_t kRound = kJacobian ? std::max<int64_t>(kLanes, kWideBytes / sizeof(T)) : kLanes;
  static_assert(kPad >= kRound, "padding must hold a whole rounded vector");
  const auto round_up = [](int64_t count) { return (count + kRound - 1) / kRound * kRound; };

  // The edge output is not zeroed by the caller: each centre stores its own edges'
  // gradients (grouped by centre, contiguous also in the [E, n_seeds, 3] layout)
  // and zeroes those beyond its cutoff (one pass over tens of MB less); the edges
  // of atoms beyond n_centers are zeroed here.
  if constexpr (kGrad) {
    std::fill(out_edges + offsets[n_centers] * 3 * n_seeds, out_edges + edge_vectors.size(0) * 3 * n_seeds, T(0));
  }

  at::parallel_for(0, n_centers, 16, [&](int64_t begin, int64_t end) {
    Workspace<T> w;
    std::vector<int64_t> block_begin(n_species + 1), fill(n_species), factor_offset(n_species),
        factor_stride(n_species);
    for (int64_t i = begin; i < end; ++i) {
      const CentrePlan<T>& cp = plan.centres[species[i]];
      // The centre's edge gradients are stored, not added, where its neighbours
      // inside rc_max are written last (no pass zeroing them first); the others are zero.
      const auto zero_edges = [&](int64_t from, int64_t to) {
        if constexpr (kGrad) std::fill(out_edges + from * 3 * n_seeds, out_edges + to * 3 * n_seeds, T(0));
      };
      if (cp.rc_max <= 0.0) {
        zero_edges(offsets[i], offsets[i + 1]);
        continue;
      }
      const T rc_max = T(cp.rc_max);
      const int64_t e0 = offsets[i], e1 = offsets[i + 1];

      // Gather the neighbours inside the largest cutoff, grouped by element.
      w.distance.resize(e1 - e0);
      std::fill(block_begin.begin(), block_begin.end(), 0);
      for (int64_t e = e0; e < e1; ++e) {
        const T* a = vec + 3 * e;
        const T r = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
        w.distance[e - e0] = r;
        if (r < rc_max) ++block_begin[species[neighbor[e]] + 1];
      }
      for (int64_t s = 0; s < n_species; ++s) block_begin[s + 1] += block_begin[s];
      const int64_t n = block_begin[n_species];
      if (n == 0) {
        zero_edges(e0, e1);
        continue;
      }
      if constexpr (kGrad) {
        for (int64_t e = e0; e < e1; ++e) {
          if (!(w.distance[e - e0] < rc_max)) zero_edges(e, e + 1);
        }
      }
      for (auto* v : {&w.x, &w.y, &w.z}) v->assign(n + kPad, T(0));
      for (auto* v : {&w.r, &w.inv_r}) v->assign(n + kPad, T(1));
      w.edge.resize(n);
      std::copy(block_begin.begin(), block_begin.end() - 1, fill.begin());
      for (int64_t e = e0; e < e1; ++e) {
        const T r = w.distance[e - e0];
        if (!(r < rc_max)) continue;
        const int64_t slot = fill[species[neighbor[e]]]++;
        const T* a = vec + 3 * e;
        w.x[slot] = a[0];
        w.y[slot] = a[1];
        w.z[slot] = a[2];
        w.r[slot] = r;
        w.inv_r[slot] = T(1) / r;
        w.edge[slot] = e;
      }

      // Radial factors per element block: slot-major, contiguous over neighbours.
      int64_t total = 0;
      int64_t max_block = 0;
      for (int64_t s = 0; s < n_species; ++s) {
        factor_offset[s] = total;
        const int64_t count = block_begin[s + 1] - block_begin[s];
        max_block = std::max(max_block, count);
        factor_stride[s] = count + kPad;
        total += static_cast<int64_t>(cp.neighbors[s].slots.size()) * factor_stride[s];
      }
      const int64_t ws = max_block + kPad;  // stride of the per-pair work arrays
      w.F.assign(total, T(0));
      if (kGrad) w.D.assign(total, T(0));
      w.cutoff.resize(2 * cp.max_cutoffs * ws);
      for (int64_t s = 0; s < n_species; ++s) {
        const int64_t count = block_begin[s + 1] - block_begin[s];
        if (count == 0) continue;
        evaluate_factors<T, kGrad>(cp.neighbors[s].slots, w.r.data() + block_begin[s], w.inv_r.data() + block_begin[s],
                                   count, w.F.data() + factor_offset[s], kGrad ? w.D.data() + factor_offset[s] : nullptr,
                                   factor_stride[s], w.cutoff.data());
      }

      T* row = kGrad ? nullptr : out_rows + i * n_columns;
      const T* seed_row = (P == Pass::VectorJacobian) ? seed + i * n_columns : nullptr;
      if constexpr (P == Pass::VectorJacobian) {
        for (auto* v : {&w.gx, &w.gy, &w.gz, &w.q}) v->assign(n + kPad, T(0));
      }
      // Multi-seed VJP: row r of the Jacobian, component c, neighbour k at jacobian[(3 r + c) * ldj + k].
      const int64_t ldj = n + kPad;
      if constexpr (kJacobian) w.jacobian.assign(3 * cp.row_columns.size() * ldj, T(0));
      const auto jacobian_row = [&](int r, int c) { return w.jacobian.data() + (3 * r + c) * ldj; };

      // Radial functions.
      for (int64_t s = 0; s < n_species; ++s) {
        const int64_t count = block_begin[s + 1] - block_begin[s];
        if (count == 0) continue;
        for (const auto& term : cp.neighbors[s].radial) {
          const int64_t at = factor_offset[s] + static_cast<int64_t>(term.slot) * factor_stride[s];
          if constexpr (!kGrad) {
            const T* __restrict F = w.F.data() + at;
            T sum = T(0);
#pragma omp simd reduction(+ : sum)
            for (int64_t k = 0; k < count; ++k) sum += F[k];
            row[term.column] += term.weight * sum;
          } else if constexpr (kJacobian) {
            const T* __restrict D = w.D.data() + at;
            const T* __restrict x = w.x.data() + block_begin[s];
            const T* __restrict y = w.y.data() + block_begin[s];
            const T* __restrict z = w.z.data() + block_begin[s];
            T* __restrict jx = jacobian_row(term.row, 0) + block_begin[s];
            T* __restrict jy = jacobian_row(term.row, 1) + block_begin[s];
            T* __restrict jz = jacobian_row(term.row, 2) + block_begin[s];
            const T weight = term.weight;
#pragma omp simd
            for (int64_t k = 0; k < count; ++k) {
              const T d = weight * D[k];
              jx[k] += d * x[k];
              jy[k] += d * y[k];
              jz[k] += d * z[k];
            }
          } else {
            const T g = seed_row[term.column] * term.weight;
            if (g == T(0)) continue;
            const T* __restrict D = w.D.data() + at;
            T* __restrict q = w.q.data() + block_begin[s];
#pragma omp simd
            for (int64_t k = 0; k < count; ++k) q[k] += g * D[k];
          }
        }
      }

      // Moment functions: into the row or w.gx.. here; the multi-seed pass adds to
      // out_edges after the contraction has stored it.
      if constexpr (!kJacobian) {
        if (!cp.moment_terms.empty()) {
          moment_functions<T, P>(cp, w, n, block_begin, factor_offset, factor_stride, seed_row, nullptr, 0, 1, row,
                                 out_edges);
        }
      }

      // Angular functions: each unordered neighbour pair (j, k) once; for one j
      // the k of a block are contiguous.
      if (!cp.pairs.empty()) {
        for (auto* v : {&w.cos_t, &w.theta, &w.r3, &w.inv_r3, &w.sx, &w.sy, &w.sz, &w.sinv_r}) v->resize(ws);
        if constexpr (kJacobian) {
          for (auto* v : {&w.pair_u, &w.pair_vj, &w.pair_vk}) v->resize(ws);
        }
        w.selected.resize(ws);
        w.sF.resize(cp.max_slots * ws);
        if (kGrad) w.sD.resize(cp.max_slots * ws);
        w.A.resize(cp.max_angles * ws);
        w.R3.resize(cp.max_r3 * ws);
        if (kGrad) {
          w.dA.resize(cp.max_angles * ws);
          w.dR3.resize(cp.max_r3 * ws);
        }
      }
      for (const PairBlock<T>& block : cp.pairs) {
        const int64_t na = block_begin[block.sa + 1] - block_begin[block.sa];
        const int64_t nb = block_begin[block.sb + 1] - block_begin[block.sb];
        if (na == 0 || nb == 0) continue;
        // Forward: each function's sum over pairs is kept as kLanes partial sums
        // across all j and reduced once per block (a horizontal sum per j and
        // function cost as much as the few vectors of k of one j).
        if constexpr (!kGrad) w.lanes.assign(block.terms.size() * kLanes, T(0));
        if constexpr (P == Pass::VectorJacobian) w.active.resize(block.terms.size());
        const bool same = block.sa == block.sb;
        const bool needs_r3 = block.r3_factors.size() > 0;
        const int64_t stride_a = factor_stride[block.sa], stride_b = factor_stride[block.sb];
        const T* Fa_all = w.F.data() + factor_offset[block.sa];
        const T* Fb_all = w.F.data() + factor_offset[block.sb];
        const T* Da_all = kGrad ? w.D.data() + factor_offset[block.sa] : nullptr;
        const T* Db_all = kGrad ? w.D.data() + factor_offset[block.sb] : nullptr;
        for (int64_t jj = 0; jj < na; ++jj) {
          const int64_t k0 = same ? jj + 1 : 0;
          if (nb - k0 <= 0) continue;
          int64_t nk = round_up(nb - k0);
          const int64_t j = block_begin[block.sa] + jj;
          const int64_t kb = block_begin[block.sb] + k0;
          const T ax = w.x[j], ay = w.y[j], az = w.z[j], inv_ra = w.inv_r[j];
          const T* __restrict bx = w.x.data() + kb;
          const T* __restrict by = w.y.data() + kb;
          const T* __restrict bz = w.z.data() + kb;
          const T* __restrict inv_rb = w.inv_r.data() + kb;
          // Neighbour k's factors: slot q at Fb[q * fb_stride + k].
          const T* Fb_base = Fb_all + k0;
          const T* Db_base = kGrad ? Db_all + k0 : nullptr;
          int64_t fb_stride = stride_b;
          const int64_t* selected = nullptr;
          // The multi-seed VJP keeps every k: its writes to k's Jacobian entries,
          // once per function, stay contiguous (scattered they cost more than the
          // pairs beyond the j-k cutoff, whose factors are zero).
          if (block.all_narrow && !kJacobian) {
            // Keep the k with r_jk inside the largest cutoff; padded lanes point
            // at position nb of the block, whose factors are zero.
            const T rc2 = T(block.r3_rc_max) * T(block.r3_rc_max);
            int64_t* sel = w.selected.data();
            T* __restrict sx = w.sx.data();
            T* __restrict sy = w.sy.data();
            T* __restrict sz = w.sz.data();
            T* __restrict sinv = w.sinv_r.data();
            const int64_t count =
                select_pairs<T, kGrad>(ax, ay, az, rc2, bx, by, bz, inv_rb, nb - k0, block.b_slots, Fb_base, Db_base,
                                       fb_stride, ws, sel, sx, sy, sz, sinv, w.sF.data(), w.sD.data());
            if (count == 0) continue;
            nk = round_up(count);
            // Padded lanes: zero factors, finite geometry, one index beyond the real ones.
            for (int64_t k = count; k < nk; ++k) {
              sel[k] = nb - k0;
              sx[k] = sy[k] = sz[k] = sinv[k] = T(0);
              for (const int q : block.b_slots) {
                w.sF[q * ws + k] = T(0);
                if constexpr (kGrad) w.sD[q * ws + k] = T(0);
              }
            }
            bx = sx;
            by = sy;
            bz = sz;
            inv_rb = sinv;
            Fb_base = w.sF.data();
            Db_base = kGrad ? w.sD.data() : nullptr;
            fb_stride = ws;
            selected = sel;
          }
          T* __restrict cos_t = w.cos_t.data();
          T* __restrict r3 = w.r3.data();
          T* __restrict inv_r3 = w.inv_r3.data();
          if (needs_r3) {
#pragma omp simd
            for (int64_t k = 0; k < nk; ++k) {
              cos_t[k] = (ax * bx[k] + ay * by[k] + az * bz[k]) * (inv_ra * inv_rb[k]);
              const T dx = bx[k] - ax, dy = by[k] - ay, dz = bz[k] - az;
              r3[k] = std::sqrt(dx * dx + dy * dy + dz * dz);
              if constexpr (kGrad) inv_r3[k] = T(1) / r3[k];
            }
            evaluate_factors<T, kGrad>(block.r3_factors, r3, inv_r3, nk, w.R3.data(), kGrad ? w.dR3.data() : nullptr,
                                       ws, w.cutoff.data());
          } else {
#pragma omp simd
            for (int64_t k = 0; k < nk; ++k) {
              cos_t[k] = (ax * bx[k] + ay * by[k] + az * bz[k]) * (inv_ra * inv_rb[k]);
            }
          }
          if (block.needs_theta) {
            for (int64_t k = 0; k < nk; ++k) {
              const T c = cos_t[k];
              w.theta[k] = std::acos(c < T(-1) ? T(-1) : (c > T(1) ? T(1) : c));
            }
          }
          for (size_t g = 0; g < block.angles.size(); ++g) {
            angle_factors<T, kGrad>(block.angles[g], cos_t, w.theta.data(), nk, w.A.data() + g * ws,
                                    kGrad ? w.dA.data() + g * ws : nullptr);
          }

          if constexpr (!kGrad) {
            for (size_t t = 0; t < block.terms.size(); ++t) {
              const auto& term = block.terms[t];
              const T Fa = Fa_all[term.slot_a * stride_a + jj];
              if (Fa == T(0)) continue;
              const T* __restrict Fb = Fb_base + term.slot_b * fb_stride;
              const T* __restrict A = w.A.data() + term.angle * ws;
              T* __restrict acc = w.lanes.data() + t * kLanes;
              T part[kLanes];
              for (int64_t l = 0; l < kLanes; ++l) part[l] = acc[l];
              if (term.r3 >= 0) {
                const T* __restrict R = w.R3.data() + term.r3 * ws;
                for (int64_t k = 0; k < nk; k += kLanes) {
#pragma omp simd
                  for (int64_t l = 0; l < kLanes; ++l) part[l] += Fa * (A[k + l] * Fb[k + l] * R[k + l]);
                }
              } else {
                for (int64_t k = 0; k < nk; k += kLanes) {
#pragma omp simd
                  for (int64_t l = 0; l < kLanes; ++l) part[l] += Fa * (A[k + l] * Fb[k + l]);
                }
              }
              for (int64_t l = 0; l < kLanes; ++l) acc[l] = part[l];
            }
          } else if constexpr (kJacobian) {
            // Each function's own gradient (the single-seed coefficients c0..c3
            // below without the seed) into its Jacobian row, at j and at every k.
            // With c0 = fa X, c1 = da Y, c2 = fa Z, c3 = fa W (X = dA Fb R, Y = A Fb R,
            // Z = A Db R, W = A Fb dR; R = 1, dR = 0 for wide functions); the geometry
            // factors that do not depend on the function are formed once per j.
            const T inv_ra2 = inv_ra * inv_ra;
            T* __restrict u = w.pair_u.data();    // 1 / (ra rb)
            T* __restrict vj = w.pair_vj.data();  // cos / ra^2
            T* __restrict vk = w.pair_vk.data();  // cos / rb^2
#pragma omp simd
            for (int64_t k = 0; k < nk; ++k) {
              u[k] = inv_ra * inv_rb[k];
              vj[k] = cos_t[k] * inv_ra2;
              vk[k] = cos_t[k] * (inv_rb[k] * inv_rb[k]);
            }
            // This j's functions with a non-zero factor, then two at a time over
            // the k (the pair geometry loaded once for both, two independent
            // chains of arithmetic; narrow and wide ones apart).
            if (w.jacobian_terms.size() < block.terms.size()) w.jacobian_terms.resize(block.terms.size());
            int count = 0;
            for (const auto& term : block.terms) {
              const T fa = term.norm * Fa_all[term.slot_a * stride_a + jj];
              const T da = term.norm * Da_all[term.slot_a * stride_a + jj];
              if (fa == T(0) && da == T(0)) continue;
              JacobianTerm<T>& t = w.jacobian_terms[count++];
              t.fa = fa;
              t.da = da;
              t.Fb = Fb_base + term.slot_b * fb_stride;
              t.Db = Db_base + term.slot_b * fb_stride;
              t.A = w.A.data() + term.angle * ws;
              t.dA = w.dA.data() + term.angle * ws;
              t.R = term.r3 >= 0 ? w.R3.data() + term.r3 * ws : nullptr;
              t.dR = term.r3 >= 0 ? w.dR3.data() + term.r3 * ws : nullptr;
              t.j = jacobian_row(term.row, 0);
            }
            // Whole vectors of kRound lanes (nk is a multiple): the sums for j
            // stay vectors, reduced once per function; k ranges are short, and
            // five scalar reductions per j and function cost as much as the loop.
            using V = Lanes<T, kWideBytes>;
            constexpr int64_t kVector = kWideBytes / sizeof(T);
            static_assert(kRound % kVector == 0, "pair counts are whole vectors");
            // Narrow functions vanish, with their derivatives, where r_jk >= r3_rc_max (the
            // cutoff functions are exactly zero there): their rows skip the vectors of k
            // whose lanes all lie beyond, which adds nothing, so the rows are unchanged.
            // Neighbours come in the neighbour search's bin order, so those beyond j's
            // cutoff tend to be consecutive; the writes stay whole vectors in place.
            int64_t n_near = 0;
            int64_t* near = nullptr;
            if (needs_r3) {
              w.near_vectors.resize(nk / kVector + 1);
              near = w.near_vectors.data();
              const T rc3 = T(block.r3_rc_max);
              for (int64_t k = 0; k < nk; k += kVector) {
                bool inside = false;
                for (int64_t l = 0; l < kVector; ++l) inside |= r3[k + l] < rc3;
                near[n_near] = k;
                n_near += inside ? 1 : 0;
              }
            }
            const auto build = [&](auto narrow_tag, auto count_tag, const JacobianTerm<T>* terms) {
              constexpr bool kNarrow = decltype(narrow_tag)::value;
              constexpr int kTerms = decltype(count_tag)::value;
              V gx[kTerms], gy[kTerms], gz[kTerms];
              for (int p = 0; p < kTerms; ++p) gx[p] = gy[p] = gz[p] = V();
              const int64_t n_vectors = kNarrow ? n_near : nk / kVector;
              for (int64_t v = 0; v < n_vectors; ++v) {
                const int64_t k = kNarrow ? near[v] : v * kVector;
                const V vu = load_lanes<T, kWideBytes>(u + k), vvj = load_lanes<T, kWideBytes>(vj + k),
                        vvk = load_lanes<T, kWideBytes>(vk + k);
                const V vbx = load_lanes<T, kWideBytes>(bx + k), vby = load_lanes<T, kWideBytes>(by + k),
                        vbz = load_lanes<T, kWideBytes>(bz + k);
                for (int p = 0; p < kTerms; ++p) {
                  const JacobianTerm<T>& t = terms[p];
                  const V a = load_lanes<T, kWideBytes>(t.A + k), da_k = load_lanes<T, kWideBytes>(t.dA + k);
                  const V fb = load_lanes<T, kWideBytes>(t.Fb + k), db = load_lanes<T, kWideBytes>(t.Db + k);
                  const V AFb = a * fb;
                  V X = da_k * fb, Y = AFb, Z = a * db, W = V();
                  if constexpr (kNarrow) {
                    const V r = load_lanes<T, kWideBytes>(t.R + k);
                    X *= r;
                    Y *= r;
                    Z *= r;
                    W = AFb * load_lanes<T, kWideBytes>(t.dR + k);
                  }
                  const V cross_f = t.fa * (X * vu - W);      // c0 / (ra rb) - c3
                  const V own_f = t.fa * (Z + W - X * vvk);   // -c0 cos / rb^2 + c2 + c3
                  const V sa = t.fa * (W - X * vvj) + t.da * Y;  // -c0 cos / ra^2 + c1 + c3
                  gx[p] += sa * ax + cross_f * vbx;
                  gy[p] += sa * ay + cross_f * vby;
                  gz[p] += sa * az + cross_f * vbz;
                  T* __restrict jx = t.j + kb + k;
                  T* __restrict jy = jx + ldj;
                  T* __restrict jz = jy + ldj;
                  store_lanes(jx, load_lanes<T, kWideBytes>(jx) + own_f * vbx + cross_f * ax);
                  store_lanes(jy, load_lanes<T, kWideBytes>(jy) + own_f * vby + cross_f * ay);
                  store_lanes(jz, load_lanes<T, kWideBytes>(jz) + own_f * vbz + cross_f * az);
                }
              }
              for (int p = 0; p < kTerms; ++p) {
                T sx = T(0), sy = T(0), sz = T(0);
                for (int64_t l = 0; l < kVector; ++l) {
                  sx += gx[p][l];
                  sy += gy[p][l];
                  sz += gz[p][l];
                }
                T* jr = terms[p].j;
                jr[j] += sx;
                jr[ldj + j] += sy;
                jr[2 * ldj + j] += sz;
              }
            };
            using One = std::integral_constant<int, 1>;
            using Two = std::integral_constant<int, 2>;
            for (int q = 0; q < count;) {
              const JacobianTerm<T>* t = w.jacobian_terms.data() + q;
              const bool narrow = t[0].R != nullptr;
              const bool pair = q + 1 < count && (t[1].R != nullptr) == narrow;
              if (narrow) {
                pair ? build(std::true_type(), Two(), t) : build(std::true_type(), One(), t);
              } else {
                pair ? build(std::false_type(), Two(), t) : build(std::false_type(), One(), t);
              }
              q += pair ? 2 : 1;
            }
          } else {
            // This j's functions with a non-zero seed: their scalars once.
            int active = 0;
            for (size_t t = 0; t < block.terms.size(); ++t) {
              const auto& term = block.terms[t];
              const T g = seed_row[term.column] * term.norm;
              if (g == T(0)) continue;
              const T sig = g * Fa_all[term.slot_a * stride_a + jj];
              const T sigp = g * Da_all[term.slot_a * stride_a + jj];
              if (sig == T(0) && sigp == T(0)) continue;
              w.active[active++] = {sig, sigp, static_cast<int>(t)};
            }
            if (active == 0) continue;
            // One pass over the k, kLanes at a time: each chunk's coefficients
            // c0..c3 summed over the functions in registers, then turned into the
            // gradients of j and k (no c arrays written and read back per function).
            // dG/da = a (-c0 cos/ra^2 + c1 + c3) + b (c0/(ra rb) - c3), and the
            // mirror image for b, with c3 the j-k distance coefficient.
            using V = Lanes<T>;
            const T inv_ra2 = inv_ra * inv_ra;
            V vsa = V(), vsx = V(), vsy = V(), vsz = V();
            T* __restrict gx = w.gx.data() + kb;
            T* __restrict gy = w.gy.data() + kb;
            T* __restrict gz = w.gz.data() + kb;
            for (int64_t k = 0; k < nk; k += kLanes) {
              V c0 = V(), c1 = V(), c2 = V(), c3 = V();
              for (int q = 0; q < active; ++q) {
                const ActiveTerm<T>& at = w.active[q];
                const auto& term = block.terms[at.term];
                const V Fb = load_lanes<T>(Fb_base + term.slot_b * fb_stride + k);
                const V Db = load_lanes<T>(Db_base + term.slot_b * fb_stride + k);
                const V A = load_lanes<T>(w.A.data() + term.angle * ws + k);
                const V dA = load_lanes<T>(w.dA.data() + term.angle * ws + k);
                if (term.r3 >= 0) {
                  const V R = load_lanes<T>(w.R3.data() + term.r3 * ws + k);
                  const V dR = load_lanes<T>(w.dR3.data() + term.r3 * ws + k);
                  const V sA = at.sig * A;
                  const V FbR = Fb * R;
                  c0 += at.sig * dA * FbR;
                  c1 += at.sigp * A * FbR;
                  c2 += sA * Db * R;
                  c3 += sA * Fb * dR;
                } else {
                  c0 += at.sig * dA * Fb;
                  c1 += at.sigp * A * Fb;
                  c2 += at.sig * A * Db;
                }
              }
              const V vbx = load_lanes<T>(bx + k), vby = load_lanes<T>(by + k), vbz = load_lanes<T>(bz + k);
              const V vinv = load_lanes<T>(inv_rb + k), vcos = load_lanes<T>(cos_t + k);
              const V cross = c0 * (inv_ra * vinv) - c3;
              vsa += c1 + c3 - c0 * vcos * inv_ra2;
              vsx += cross * vbx;
              vsy += cross * vby;
              vsz += cross * vbz;
              const V own = c2 + c3 - c0 * vcos * vinv * vinv;
              const V ox = own * vbx + cross * ax, oy = own * vby + cross * ay, oz = own * vbz + cross * az;
              if (selected != nullptr) {
                // Distinct places among the real lanes; padded lanes add zero.
                for (int64_t l = 0; l < kLanes; ++l) {
                  const int64_t to = selected[k + l];
                  gx[to] += ox[l];
                  gy[to] += oy[l];
                  gz[to] += oz[l];
                }
              } else {
                store_lanes<T>(gx + k, load_lanes<T>(gx + k) + ox);
                store_lanes<T>(gy + k, load_lanes<T>(gy + k) + oy);
                store_lanes<T>(gz + k, load_lanes<T>(gz + k) + oz);
              }
            }
            T sa = T(0), sx = T(0), sy = T(0), sz = T(0);
            for (int64_t l = 0; l < kLanes; ++l) {
              sa += vsa[l];
              sx += vsx[l];
              sy += vsy[l];
              sz += vsz[l];
            }
            w.gx[j] += sa * ax + sx;
            w.gy[j] += sa * ay + sy;
            w.gz[j] += sa * az + sz;
          }
        }
        if constexpr (!kGrad) {
          for (size_t t = 0; t < block.terms.size(); ++t) {
            const T* acc = w.lanes.data() + t * kLanes;
            T sum = T(0);
            for (int64_t l = 0; l < kLanes; ++l) sum += acc[l];
            row[block.terms[t].column] += block.terms[t].norm * sum;
          }
        }
      }

      if constexpr (kJacobian) {
        // Contract the Jacobian with the members' seed rows, kSeedBlock at a time.
        const int64_t rows = static_cast<int64_t>(cp.row_columns.size());
        for (int64_t m0 = 0; m0 < n_seeds; m0 += kSeedBlock) {
          const int64_t b_count = std::min<int64_t>(kSeedBlock, n_seeds - m0);
          w.seeds.resize(rows * b_count);
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t b = 0; b < b_count; ++b) {
              w.seeds[r * b_count + b] = seed[((m0 + b) * n_centers + i) * n_columns + cp.row_columns[r]];
            }
          }
          const auto contract = [&](auto block_tag) {
            contract_jacobian<T, decltype(block_tag)::value>(w.jacobian.data(), ldj, rows, w.seeds.data(), n,
                                                             w.edge.data(), n_seeds, m0, out_edges);
          };
          with_count<kSeedBlock>(b_count, contract);
        }
        if (!cp.moment_terms.empty()) {
          moment_functions<T, P>(cp, w, n, block_begin, factor_offset, factor_stride, nullptr, seed + i * n_columns,
                                 n_centers * n_columns, n_seeds, row, out_edges);
        }
      } else if constexpr (kGrad) {
        for (int64_t k = 0; k < n; ++k) {
          T* out = out_edges + 3 * w.edge[k];
          out[0] = w.gx[k] + w.q[k] * w.x[k];
          out[1] = w.gy[k] + w.q[k] * w.y[k];
          out[2] = w.gz[k] + w.q[k] * w.z[k];
        }
      }
    }
  });
}

int64_t species_count(const torch::Tensor& species) {
  const int64_t* s = species.data_ptr<int64_t>();
  int64_t max_species = -1;
  for (int64_t i = 0; i < species.size(0); ++i) {
    TORCH_CHECK(s[i] >= 0, "species index of atom ", i, " is negative");
    max_species = std::max(max_species, s[i]);
  }
  return max_species + 1;
}

}  // namespace

void grouped_symmetry_functions_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                        const torch::Tensor& species, const torch::Tensor& sf_int,
                                        const torch::Tensor& sf_real, int64_t n_centers, torch::Tensor& out) {
  const int64_t n_columns = out.size(1);
  AT_DISPATCH_FLOATING_TYPES(edge_vectors.scalar_type(), "grouped_symmetry_functions_forward", [&] {
    const auto plan = make_grouped_plan<scalar_t>(sf_int, sf_real, species_count(species), n_columns);
    run_grouped<scalar_t, Pass::Forward>(plan, edge_vectors, edge_index, species, n_centers, n_columns, nullptr,
                                         out.data_ptr<scalar_t>(), nullptr);
  });
}

void grouped_symmetry_functions_vjp(const torch::Tensor& grad_G, const torch::Tensor& edge_vectors,
                                    const torch::Tensor& edge_index, const torch::Tensor& species,
                                    const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                    torch::Tensor& out_edges) {
  const int64_t n_columns = grad_G.size(-1);
  const bool members = grad_G.dim() == 3;
  AT_DISPATCH_FLOATING_TYPES(edge_vectors.scalar_type(), "grouped_symmetry_functions_vjp", [&] {
    const auto plan = make_grouped_plan<scalar_t>(sf_int, sf_real, species_count(species), n_columns);
    if (members) {
      run_grouped<scalar_t, Pass::MemberJacobian>(plan, edge_vectors, edge_index, species, n_centers, n_columns,
                                                  grad_G.data_ptr<scalar_t>(), nullptr, out_edges.data_ptr<scalar_t>(),
                                                  grad_G.size(0));
    } else {
      run_grouped<scalar_t, Pass::VectorJacobian>(plan, edge_vectors, edge_index, species, n_centers, n_columns,
                                                  grad_G.data_ptr<scalar_t>(), nullptr,
                                                  out_edges.data_ptr<scalar_t>());
    }
  });
}

}  // namespace nnpkit
