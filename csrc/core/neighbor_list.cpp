#include "core/neighbor_list.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <sstream>

#include "core/errors.h"
#include "core/lattice.h"
#include "core/periodic_images.h"
#include "core/usable_threads.h"

namespace nnpkit {
namespace {

using lattice::Mat3;
using lattice::Vec3;
using lattice::cross;
using lattice::norm;
using lattice::normalized;
using lattice::row;

// Lattice vectors along periodic directions as given; the others replaced by unit
// vectors orthogonal to the periodic ones, which is all binning needs there.
Mat3 effective_cell(const Mat3& cell, const std::array<bool, 3>& pbc) {
  std::vector<int> periodic, open;
  for (int d = 0; d < 3; ++d) (pbc[d] ? periodic : open).push_back(d);
  for (int d : periodic) {
    if (norm(row(cell, d)) < 1e-12) {
      std::ostringstream msg;
      msg << "cell vector " << d << " is zero although the system is periodic along it";
      throw InputError(msg.str());
    }
  }
  Mat3 out = cell;
  auto set_row = [&out](int d, const Vec3& v) {
    for (int k = 0; k < 3; ++k) out[3 * d + k] = v[k];
  };
  if (periodic.empty()) {
    out = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  } else if (periodic.size() == 1) {
    const Vec3 p = normalized(row(cell, periodic[0]));
    const Vec3 trial = std::fabs(p[0]) < 0.9 ? Vec3{1, 0, 0} : Vec3{0, 1, 0};
    const Vec3 u = normalized(cross(p, trial));
    const Vec3 w = normalized(cross(p, u));
    set_row(open[0], u);
    set_row(open[1], w);
  } else if (periodic.size() == 2) {
    const Vec3 n = cross(row(cell, periodic[0]), row(cell, periodic[1]));
    if (norm(n) < 1e-12 * norm(row(cell, periodic[0])) * norm(row(cell, periodic[1]))) {
      throw InputError("the two periodic cell vectors are parallel: the cell is singular");
    }
    set_row(open[0], normalized(n));
  }
  const double scale = norm(row(out, 0)) * norm(row(out, 1)) * norm(row(out, 2));
  if (!(std::fabs(lattice::determinant(out)) > 1e-10 * scale)) {
    throw InputError("the cell is singular (its lattice vectors are linearly dependent)");
  }
  // Keep a right-handed frame so that the sign conventions below hold.
  return out;
}

// One chunk's edges (the list's four arrays), written through raw pointers into
// buffers sized ahead and grown by doubling, left uninitialised: eight push_backs
// per edge, each checking its capacity, were an eighth of the search's
// instructions (callgrind, a 1k-atom water box).
struct ChunkEdges {
  std::unique_ptr<int64_t[]> centers, neighbors;
  std::unique_ptr<int32_t[]> shifts;
  std::unique_ptr<double[]> vectors;
  int64_t size = 0, capacity = 0;

  // Room for `needed` edges, the ones written kept.
  void reserve(int64_t needed) {
    if (needed <= capacity) return;
    const int64_t grown = std::max(needed, 2 * capacity);
    grow(centers, 1, grown);
    grow(neighbors, 1, grown);
    grow(shifts, 3, grown);
    grow(vectors, 3, grown);
    capacity = grown;
  }

 private:
  template <typename T>
  void grow(std::unique_ptr<T[]>& array, int64_t width, int64_t grown) const {
    std::unique_ptr<T[]> larger(new T[width * grown]);  // uninitialised: written before read
    if (size > 0) std::copy_n(array.get(), width * size, larger.get());
    array = std::move(larger);
  }
};

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

void build_neighbor_list(NeighborList& list, const double* positions, int64_t n, const std::array<double, 9>& cell,
                         const std::array<bool, 3>& pbc, double cutoff, const NeighborLimits& limits) {
  if (!(cutoff > 0.0) || !std::isfinite(cutoff)) throw InputError("the neighbour cutoff must be positive and finite");
  for (int64_t i = 0; i < 3 * n; ++i) {
    if (!std::isfinite(positions[i])) {
      std::ostringstream msg;
      msg << "position of atom " << i / 3 << " is not finite (NaN or infinity)";
      throw NonFinitePositionError(msg.str(), i / 3);
    }
  }
  for (int k = 0; k < 9; ++k) {
    if (!std::isfinite(cell[k])) throw InputError("the cell contains NaN or infinite numbers");
  }
  const auto set_size = [&list](int64_t edges) {
    list.centers.resize(edges);
    list.neighbors.resize(edges);
    list.shifts.resize(3 * edges);
    list.vectors.resize(3 * edges);
  };
  if (n == 0) {
    set_size(0);
    return;
  }

  const Mat3 box = effective_cell(cell, pbc);
  const Mat3 inv = lattice::inverse(box);

  // Fractional coordinates s = x . inv; wrap periodic ones into [0, 1) and remember
  // the lattice translation that did it.
  std::vector<double> frac(3 * n);
  std::vector<int64_t> wrap(3 * n, 0);
  Vec3 lo{0, 0, 0}, hi{1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    if (!pbc[d]) {
      lo[d] = 1e300;
      hi[d] = -1e300;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const double* x = positions + 3 * i;
    for (int d = 0; d < 3; ++d) {
      double s = x[0] * inv[d] + x[1] * inv[3 + d] + x[2] * inv[6 + d];
      if (pbc[d]) {
        const double f = std::floor(s);
        s -= f;
        int64_t w = static_cast<int64_t>(f);
        if (s >= 1.0) {  // rounding at the upper face
          s = 0.0;
          w += 1;
        }
        wrap[3 * i + d] = w;
      } else {
        lo[d] = std::min(lo[d], s);
        hi[d] = std::max(hi[d], s);
      }
      frac[3 * i + d] = s;
    }
  }

  // Bins at least half the cutoff wide across the lattice planes, at most ~2 per
  // atom. A centre's candidates then come from (2 reach + 1)^3 bins of about
  // (cutoff / 2)^3: about 40% fewer than from 27 bins of cutoff^3 (one in seven
  // passed there), and each row of bins along the third direction is one contiguous
  // range of the bin-ordered atoms per periodic image.
  const std::array<double, 3> plane_spacing = lattice_plane_spacings(box);
  check_images_per_direction(plane_spacing, pbc, cutoff, "the cutoff");
  // Periodic images the cutoff sphere spans: the work per atom grows with them.
  check_image_count(plane_spacing, pbc, cutoff, limits);
  const double min_bin_width = 0.5 * cutoff;
  std::array<int64_t, 3> nbins{}, reach{};
  std::array<double, 3> extent{};
  for (int d = 0; d < 3; ++d) {
    extent[d] = std::max(hi[d] - lo[d], 1e-12);
    const double width = extent[d] * plane_spacing[d];
    // Capped before the product below, which would overflow for a huge box.
    const int64_t max_bins = 2 * n + 8;
    nbins[d] =
        static_cast<int64_t>(std::clamp(std::floor(width / min_bin_width), 1.0, static_cast<double>(max_bins)));
  }
  const int64_t max_bins = 2 * n + 8;
  while (static_cast<double>(nbins[0]) * static_cast<double>(nbins[1]) * static_cast<double>(nbins[2]) >
         static_cast<double>(max_bins)) {
    const int d = static_cast<int>(std::max_element(nbins.begin(), nbins.end()) - nbins.begin());
    nbins[d] = std::max<int64_t>(1, nbins[d] / 2);
  }
  for (int d = 0; d < 3; ++d) {
    const double bin_width = extent[d] * plane_spacing[d] / static_cast<double>(nbins[d]);
    reach[d] = static_cast<int64_t>(std::ceil(cutoff / bin_width));
    if (!pbc[d]) reach[d] = std::min(reach[d], nbins[d]);
  }

  // Counting sort of atoms into bins.
  const int64_t total_bins = nbins[0] * nbins[1] * nbins[2];
  std::vector<int64_t> bin_of(n), bin_start(total_bins + 1, 0), bin_atoms(n);
  std::vector<std::array<int64_t, 3>> bin_coords(n);
  for (int64_t i = 0; i < n; ++i) {
    std::array<int64_t, 3> b{};
    for (int d = 0; d < 3; ++d) {
      const double t = (frac[3 * i + d] - (pbc[d] ? 0.0 : lo[d])) / extent[d];
      b[d] = std::min<int64_t>(nbins[d] - 1, std::max<int64_t>(0, static_cast<int64_t>(t * nbins[d])));
    }
    bin_coords[i] = b;
    bin_of[i] = (b[0] * nbins[1] + b[1]) * nbins[2] + b[2];
    bin_start[bin_of[i] + 1] += 1;
  }
  for (int64_t b = 0; b < total_bins; ++b) bin_start[b + 1] += bin_start[b];
  {
    std::vector<int64_t> fill(bin_start.begin(), bin_start.end() - 1);
    for (int64_t i = 0; i < n; ++i) bin_atoms[fill[bin_of[i]]++] = i;
  }

  const double cutoff2 = cutoff * cutoff;
  // Wrapped positions, for a cheap first test of each candidate pair: per bin visit
  // the image translation is one vector, so a candidate costs three additions. A
  // pair that passes (with a margin far above rounding) is measured exactly as below.
  std::vector<double> wrapped(3 * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      wrapped[3 * i + c] = positions[3 * i + c] - static_cast<double>(wrap[3 * i]) * cell[c] -
                           static_cast<double>(wrap[3 * i + 1]) * cell[3 + c] -
                           static_cast<double>(wrap[3 * i + 2]) * cell[6 + c];
    }
  }
  const double prefilter2 = cutoff2 * (1.0 + 1e-9) + 1e-300;
  // The wrapped positions again in bin order, by coordinate: a bin's candidates
  // are then contiguous, and their distances are computed as vectors before the
  // few inside the cutoff are measured exactly.
  std::vector<double> binned_x(n), binned_y(n), binned_z(n);
  for (int64_t k = 0; k < n; ++k) {
    const double* w = wrapped.data() + 3 * bin_atoms[k];
    binned_x[k] = w[0];
    binned_y[k] = w[1];
    binned_z[k] = w[2];
  }
  // The most candidates one visit can read: a whole row of bins along the third direction.
  int64_t max_in_row = 0;
  for (int64_t row = 0; row < nbins[0] * nbins[1]; ++row) {
    max_in_row = std::max(max_in_row, bin_start[(row + 1) * nbins[2]] - bin_start[row * nbins[2]]);
  }
  // Edges per centre expected from the density of a periodic box (to reserve the
  // chunks' lists: grown by doubling, they were copied and faulted in afresh).
  int64_t expected_per_atom = 0;
  if (pbc[0] && pbc[1] && pbc[2]) {
    const double volume = std::fabs(lattice::determinant(box));
    const double sphere = 4.0 / 3.0 * 3.14159265358979323846 * cutoff * cutoff * cutoff;
    const double expected = 1.1 * static_cast<double>(n) * sphere / volume + 8.0;
    expected_per_atom = static_cast<int64_t>(std::min(expected, static_cast<double>(limits.max_neighbors_per_atom)));
  }
  // Work on chunks of centre atoms in parallel; concatenating the chunks in
  // order keeps the list grouped by centre. Eight chunks per thread or more, so
  // that the threads' shares of the search differ by little (one chunk of 256
  // atoms left a thread idle for a fifth of the search of a 1,000-atom box).
  const int64_t threads = usable_threads();
  const int64_t grain = std::clamp<int64_t>((n + 8 * threads - 1) / (8 * threads), 16, 256);
  const int64_t n_chunks = (n + grain - 1) / grain;
  std::vector<ChunkEdges> parts(n_chunks);
  // Edges found so far by all threads; the search stops once past the limit.
  const int64_t max_edges = limits.max_edges(n);
  std::atomic<int64_t> found{0};
  at::parallel_for(0, n_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<double> d2(max_in_row);
    std::vector<int64_t> hits(max_in_row);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      ChunkEdges& part = parts[chunk];
      const int64_t i_end = std::min(n, (chunk + 1) * grain);
      int64_t& size = part.size;  // edges written so far
      part.reserve(std::max<int64_t>(expected_per_atom, 8) * (i_end - chunk * grain));
      for (int64_t i = chunk * grain; i < i_end; ++i) {
        if (found.load(std::memory_order_relaxed) > max_edges) break;
        const int64_t edges_before = size;
        const double* xi = positions + 3 * i;
        const auto& bi = bin_coords[i];
        for (int64_t o0 = -reach[0]; o0 <= reach[0]; ++o0) {
          int64_t t0 = bi[0] + o0, s0 = 0;
          if (pbc[0]) {
            s0 = floor_div(t0, nbins[0]);
            t0 -= s0 * nbins[0];
          } else if (t0 < 0 || t0 >= nbins[0]) {
            continue;
          }
          for (int64_t o1 = -reach[1]; o1 <= reach[1]; ++o1) {
            int64_t t1 = bi[1] + o1, s1 = 0;
            if (pbc[1]) {
              s1 = floor_div(t1, nbins[1]);
              t1 -= s1 * nbins[1];
            } else if (t1 < 0 || t1 >= nbins[1]) {
              continue;
            }
            // The row's bins t2 in [bi[2] - reach, bi[2] + reach], as runs of one image each.
            int64_t t2_lo = bi[2] - reach[2], t2_hi = bi[2] + reach[2];
            if (!pbc[2]) {
              t2_lo = std::max<int64_t>(t2_lo, 0);
              t2_hi = std::min<int64_t>(t2_hi, nbins[2] - 1);
            }
            const int64_t row = (t0 * nbins[1] + t1) * nbins[2];  // the row's first bin
            for (int64_t t2 = t2_lo; t2 <= t2_hi;) {
              const int64_t s2 = pbc[2] ? floor_div(t2, nbins[2]) : 0;
              const int64_t first = t2 - s2 * nbins[2];
              const int64_t last = std::min(t2_hi - s2 * nbins[2], nbins[2] - 1);
              t2 += last - first + 1;
              double base[3];
              for (int c = 0; c < 3; ++c) {
                base[c] = static_cast<double>(s0) * cell[c] + static_cast<double>(s1) * cell[3 + c] +
                          static_cast<double>(s2) * cell[6 + c] - wrapped[3 * i + c];
              }
              const int64_t k0 = bin_start[row + first], count = bin_start[row + last + 1] - k0;
              const double* __restrict px = binned_x.data() + k0;
              const double* __restrict py = binned_y.data() + k0;
              const double* __restrict pz = binned_z.data() + k0;
              double* __restrict dd = d2.data();
#pragma omp simd
              for (int64_t q = 0; q < count; ++q) {
                const double d0 = px[q] + base[0], d1 = py[q] + base[1], d2q = pz[q] + base[2];
                dd[q] = d0 * d0 + d1 * d1 + d2q * d2q;
              }
              // The candidates that pass, without a branch per candidate (about one in
              // four or five passes, at random: a branch mispredicted on most of them).
              int64_t n_hits = 0;
              for (int64_t q = 0; q < count; ++q) {
                hits[n_hits] = q;
                n_hits += dd[q] < prefilter2 ? 1 : 0;
              }
              part.reserve(size + n_hits);
              int64_t* __restrict out_centers = part.centers.get();
              int64_t* __restrict out_neighbors = part.neighbors.get();
              int32_t* __restrict out_shifts = part.shifts.get();
              double* __restrict out_vectors = part.vectors.get();
              for (int64_t h = 0; h < n_hits; ++h) {
                const int64_t q = hits[h];
                const int64_t j = bin_atoms[k0 + q];
                if (j == i && s0 == 0 && s1 == 0 && s2 == 0) continue;
                // Translation relative to the unwrapped input positions.
                const int64_t sh[3] = {s0 - wrap[3 * j] + wrap[3 * i], s1 - wrap[3 * j + 1] + wrap[3 * i + 1],
                                       s2 - wrap[3 * j + 2] + wrap[3 * i + 2]};
                const double* xj = positions + 3 * j;
                double v[3];
                for (int c = 0; c < 3; ++c) {
                  v[c] = xj[c] - xi[c] + static_cast<double>(sh[0]) * cell[c] +
                         static_cast<double>(sh[1]) * cell[3 + c] + static_cast<double>(sh[2]) * cell[6 + c];
                }
                if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] >= cutoff2) continue;
                out_centers[size] = i;
                out_neighbors[size] = j;
                for (int c = 0; c < 3; ++c) {
                  out_shifts[3 * size + c] = static_cast<int32_t>(sh[c]);
                  out_vectors[3 * size + c] = v[c];
                }
                ++size;
              }
            }
          }
        }
        found.fetch_add(size - edges_before, std::memory_order_relaxed);
      }
    }
  });
  if (found.load() > max_edges) {
    std::ostringstream msg;
    msg << "the neighbour search found more than " << max_edges << " edges for " << n << " atoms (over "
        << limits.max_neighbors_per_atom << " neighbours per atom within the cutoff of " << cutoff
        << "; the limit is max_neighbors): check the cutoff and the units of the positions, or raise max_neighbors "
           "if this is meant";
    throw InputError(msg.str());
  }

  // The chunks concatenated in order, each copied by a thread to its offset.
  std::vector<int64_t> part_offset(n_chunks + 1, 0);
  for (int64_t chunk = 0; chunk < n_chunks; ++chunk) part_offset[chunk + 1] = part_offset[chunk] + parts[chunk].size;
  const int64_t total = part_offset[n_chunks];
  // Into the storage `list` already has (zero-filled only where it grows).
  set_size(total);
  at::parallel_for(0, n_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const ChunkEdges& p = parts[chunk];
      const int64_t at = part_offset[chunk];
      std::copy_n(p.centers.get(), p.size, list.centers.begin() + at);
      std::copy_n(p.neighbors.get(), p.size, list.neighbors.begin() + at);
      std::copy_n(p.shifts.get(), 3 * p.size, list.shifts.begin() + 3 * at);
      std::copy_n(p.vectors.get(), 3 * p.size, list.vectors.begin() + 3 * at);
    }
  });
}

NeighborList build_neighbor_list(const double* positions, int64_t n, const std::array<double, 9>& cell,
                                 const std::array<bool, 3>& pbc, double cutoff, const NeighborLimits& limits) {
  NeighborList list;
  build_neighbor_list(list, positions, n, cell, pbc, cutoff, limits);
  return list;
}

}  // namespace nnpkit
