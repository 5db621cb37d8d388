#include "core/periodic_images.h"

#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/lattice.h"

namespace nnpkit {

std::array<double, 3> lattice_plane_spacings(const std::array<double, 9>& cell) {
  // Column d of the inverse cell is the normal of lattice planes d over their spacing.
  const lattice::Mat3 inv = lattice::inverse(cell);
  std::array<double, 3> out{};
  for (int d = 0; d < 3; ++d) out[d] = 1.0 / std::sqrt(inv[d] * inv[d] + inv[3 + d] * inv[3 + d] + inv[6 + d] * inv[6 + d]);
  return out;
}

void check_images_per_direction(const std::array<double, 3>& plane_spacings, const std::array<bool, 3>& pbc,
                                double reach, const std::string& what) {
  for (int d = 0; d < 3; ++d) {
    if (pbc[d] && reach / plane_spacings[d] > kMaxImagesPerDirection) {
      std::ostringstream msg;
      msg << "the periodic cell is too small for " << what << ": " << reach << " spans more than "
          << kMaxImagesPerDirection << " images across lattice planes " << plane_spacings[d] << " apart (direction "
          << d << ")";
      throw InputError(msg.str());
    }
  }
}

void check_image_count(const std::array<double, 3>& plane_spacings, const std::array<bool, 3>& pbc, double cutoff,
                       const NeighborLimits& limits) {
  double images = 1.0;
  std::ostringstream per_direction;
  for (int d = 0; d < 3; ++d) {
    const double k = pbc[d] ? 2.0 * std::ceil(cutoff / plane_spacings[d]) + 1.0 : 1.0;
    images *= k;
    per_direction << (d ? " x " : "") << k;
  }
  if (images > static_cast<double>(limits.max_images)) {
    std::ostringstream msg;
    msg << "the periodic cell is too small for the cutoff: a cutoff of " << cutoff << " spans " << per_direction.str()
        << " = " << images << " periodic images (lattice planes " << plane_spacings[0] << ", " << plane_spacings[1]
        << ", " << plane_spacings[2] << " apart), more than the limit of " << limits.max_images
        << " (max_images); check the cutoff and the cell, or raise max_images if this is meant";
    throw InputError(msg.str());
  }
}

}  // namespace nnpkit
