// Fully connected CRF (Kraehenbuehl & Koltun, NIPS 2011), the label-noise pipeline's step 7:
// mean-field inference with a Potts model whose pairwise kernel mixes a Gaussian on position and
// a bilateral one on position and colour. Messages are filtered by a permutohedral lattice
// (Adams et al., 2010) in O(N); a brute-force O(N^2) version is the reference it is tested against.
#pragma once

#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg {

// k(i, j) = gaussian_weight   exp(-|p_i - p_j|^2 / (2 gaussian_sxy^2))
//         + bilateral_weight  exp(-|p_i - p_j|^2 / (2 bilateral_sxy^2) - |I_i - I_j|^2 / (2 bilateral_srgb^2))
// with p in pixels and I in 8-bit RGB. Defaults: DeepLab's VOC smoothness term (3, 3) and the
// pydensecrf example's appearance term (80, 13, 10), scaled to the image by the configs.
struct DenseCrfOptions {
    int iterations = 10;
    float gaussian_sxy = 3, gaussian_weight = 3;
    float bilateral_sxy = 80, bilateral_srgb = 13, bilateral_weight = 10;
};

// Mean field: Q_i(l) ∝ exp(log P_i(l) + sum_j k(i, j) Q_j(l)) (the Potts energy's message; the
// label-independent part cancels in the normalisation). The sum runs over every j including i, as
// in Kraehenbuehl's code. probs (H, W, C) rows sum to 1 (entries > 0); returns Q (H, W, C).
// 0 iterations returns probs.
std::vector<float> dense_crf(const Image& image, const std::vector<float>& probs, int num_classes,
                             const DenseCrfOptions& options);

// The same inference with every message summed exactly over all pixel pairs: O(N^2 C) per
// iteration, for tests on small images.
std::vector<float> dense_crf_brute_force(const Image& image, const std::vector<float>& probs,
                                         int num_classes, const DenseCrfOptions& options);

// The permutohedral lattice of a set of points (N, d) in feature space: filter(values (N, v))
// returns about sum_j exp(-|f_i - f_j|^2 / 2) values_j for every i.
class PermutohedralLattice {
  public:
    PermutohedralLattice(const std::vector<float>& features, int num_points, int dims);
    std::vector<float> filter(const std::vector<float>& values, int value_dims) const;
    int num_vertices() const { return num_vertices_; }

  private:
    int num_points_, dims_, num_vertices_ = 0;
    std::vector<int> vertex_;        // (N, d + 1) lattice vertex of each simplex corner
    std::vector<float> barycentric_; // (N, d + 1) the point's weight on each corner
    std::vector<int> neighbours_; // (d + 1, M, 2) vertex -1 / +1 along each lattice axis, -1 none
};

} // namespace pg::seg
