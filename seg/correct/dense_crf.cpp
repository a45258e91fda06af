// Dense CRF mean field (dense_crf.h): the permutohedral lattice (splat, blur along the d + 1
// lattice axes, slice), the pairwise messages through it or by brute force, and the update loop.
#include "seg/correct/dense_crf.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "tensor/error.h"

namespace pg::seg {

namespace {

// Open-addressing map from a lattice vertex (d integer coordinates; the (d+1)-th is minus their
// sum) to its index in insertion order.
class VertexTable {
  public:
    explicit VertexTable(int dims, size_t expected) : dims_(dims) {
        size_t n = 16;
        while (n < expected * 2) n *= 2;
        slots_.assign(n, -1);
    }
    int find(const int* key, bool insert) {
        size_t mask = slots_.size() - 1, h = hash(key) & mask;
        for (;; h = (h + 1) & mask) {
            int s = slots_[h];
            if (s < 0) break;
            if (std::equal(key, key + dims_, &keys_[size_t(s) * dims_])) return s;
        }
        if (!insert) return -1;
        int index = int(keys_.size() / dims_);
        keys_.insert(keys_.end(), key, key + dims_);
        slots_[h] = index;
        if (keys_.size() / dims_ * 2 > slots_.size()) grow();
        return index;
    }
    int size() const { return int(keys_.size() / dims_); }
    const int* key(int index) const { return &keys_[size_t(index) * dims_]; }

  private:
    size_t hash(const int* key) const {
        size_t h = 0;
        for (int i = 0; i < dims_; i++) h = (h + size_t(uint32_t(key[i]))) * 2531011u;
        return h;
    }
    void grow() {
        std::vector<int> old_keys;
        old_keys.swap(keys_);
        slots_.assign(slots_.size() * 2, -1);
        for (size_t i = 0; i < old_keys.size(); i += dims_) find(&old_keys[i], true);
    }
    int dims_;
    std::vector<int> keys_;
    std::vector<int> slots_;
};

} // namespace

// Each point is lifted onto the hyperplane x . 1 = 0 of R^{d+1}, scaled so that the lattice's
// [1 2 1] blurs along the d+1 axes amount to a unit Gaussian; the enclosing simplex is found by
// rounding to the nearest remainder-0 vertex and sorting the residuals (Adams et al., §3).
PermutohedralLattice::PermutohedralLattice(const std::vector<float>& features, int num_points,
                                           int dims)
    : num_points_(num_points), dims_(dims) {
    const int d = dims, d1 = dims + 1;
    PG_CHECK(d >= 1 && num_points >= 1 && features.size() == size_t(num_points) * d,
             "permutohedral lattice: expected (", num_points, ", ", d, ") features, got ",
             features.size(), " values");
    std::vector<float> scale(d);
    const float inv_std = std::sqrt(2.0f / 3.0f) * d1;
    for (int i = 0; i < d; i++) scale[i] = inv_std / std::sqrt(float((i + 1) * (i + 2)));
    VertexTable table(d, size_t(num_points) * d1);
    vertex_.resize(size_t(num_points) * d1);
    barycentric_.resize(size_t(num_points) * d1);
    std::vector<float> elevated(d1), bary(d1 + 1);
    std::vector<int> rem0(d1), rank(d1), key(d);
    for (int n = 0; n < num_points; n++) {
        const float* f = &features[size_t(n) * d];
        float sum = 0;
        for (int j = d; j > 0; j--) {
            float cf = f[j - 1] * scale[j - 1];
            elevated[j] = sum - j * cf;
            sum += cf;
        }
        elevated[0] = sum;
        // Nearest remainder-0 point, and the sum of its coordinates / (d+1).
        int total = 0;
        for (int i = 0; i < d1; i++) {
            float v = elevated[i] / d1;
            int up = int(std::ceil(v)) * d1, down = int(std::floor(v)) * d1;
            rem0[i] = (up - elevated[i] < elevated[i] - down) ? up : down;
            total += rem0[i];
        }
        total /= d1;
        std::fill(rank.begin(), rank.end(), 0);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d1; j++)
                (elevated[i] - rem0[i] < elevated[j] - rem0[j] ? rank[i] : rank[j])++;
        // Walk back onto the hyperplane when the rounding left the coordinate sum off zero.
        for (int i = 0; i < d1; i++) {
            if (total > 0 && rank[i] >= d1 - total)
                rem0[i] -= d1, rank[i] += total - d1;
            else if (total < 0 && rank[i] < -total)
                rem0[i] += d1, rank[i] += d1 + total;
            else
                rank[i] += total;
        }
        std::fill(bary.begin(), bary.end(), 0.0f);
        for (int i = 0; i < d1; i++) {
            float v = (elevated[i] - rem0[i]) / d1;
            bary[d - rank[i]] += v;
            bary[d - rank[i] + 1] -= v;
        }
        bary[0] += 1.0f + bary[d1];
        // Corner r of the simplex: rem0 + the canonical offset of remainder r, by rank.
        for (int r = 0; r < d1; r++) {
            for (int i = 0; i < d; i++) key[i] = rem0[i] + (rank[i] < d1 - r ? r : r - d1);
            vertex_[size_t(n) * d1 + r] = table.find(key.data(), true);
            barycentric_[size_t(n) * d1 + r] = bary[r];
        }
    }
    num_vertices_ = table.size();
    // Neighbours along axis j: the vertex - 1 in every coordinate except + d in coordinate j
    // (for j = d only the implicit last coordinate moves by d).
    neighbours_.assign(size_t(d1) * num_vertices_ * 2, -1);
    std::vector<int> n1(d1), n2(d1);
    for (int j = 0; j < d1; j++)
        for (int v = 0; v < num_vertices_; v++) {
            const int* k = table.key(v);
            for (int i = 0; i < d; i++) n1[i] = k[i] - 1, n2[i] = k[i] + 1;
            if (j < d) n1[j] = k[j] + d, n2[j] = k[j] - d;
            int* out = &neighbours_[(size_t(j) * num_vertices_ + v) * 2];
            out[0] = table.find(n1.data(), false);
            out[1] = table.find(n2.data(), false);
        }
}

std::vector<float> PermutohedralLattice::filter(const std::vector<float>& values, int vd) const {
    const int d1 = dims_ + 1, M = num_vertices_;
    PG_CHECK(vd >= 1 && values.size() == size_t(num_points_) * vd,
             "permutohedral lattice: expected (", num_points_, ", ", vd, ") values, got ",
             values.size());
    // Slot 0 holds zeros for missing neighbours; vertex v lives in slot v + 1.
    std::vector<float> grid(size_t(M + 1) * vd, 0.0f), next(grid.size(), 0.0f);
    for (int n = 0; n < num_points_; n++)
        for (int r = 0; r < d1; r++) {
            float w = barycentric_[size_t(n) * d1 + r];
            float* g = &grid[size_t(vertex_[size_t(n) * d1 + r] + 1) * vd];
            for (int c = 0; c < vd; c++) g[c] += w * values[size_t(n) * vd + c];
        }
    for (int j = 0; j < d1; j++) {
        for (int v = 0; v < M; v++) {
            const int* nb = &neighbours_[(size_t(j) * M + v) * 2];
            const float* a = &grid[size_t(nb[0] + 1) * vd];
            const float* b = &grid[size_t(nb[1] + 1) * vd];
            const float* self = &grid[size_t(v + 1) * vd];
            float* out = &next[size_t(v + 1) * vd];
            for (int c = 0; c < vd; c++) out[c] = self[c] + 0.5f * (a[c] + b[c]);
        }
        grid.swap(next);
    }
    // The blurs' gain at zero distance is 1 + 2^-d rather than 1; alpha takes it out.
    const float alpha = 1.0f / (1.0f + std::pow(2.0f, -float(dims_)));
    std::vector<float> out(size_t(num_points_) * vd, 0.0f);
    for (int n = 0; n < num_points_; n++)
        for (int r = 0; r < d1; r++) {
            float w = barycentric_[size_t(n) * d1 + r] * alpha;
            const float* g = &grid[size_t(vertex_[size_t(n) * d1 + r] + 1) * vd];
            for (int c = 0; c < vd; c++) out[size_t(n) * vd + c] += w * g[c];
        }
    return out;
}

namespace {

void check_inputs(const Image& image, const std::vector<float>& probs, int C,
                  const DenseCrfOptions& o) {
    const size_t N = size_t(image.height) * image.width;
    PG_CHECK(image.channels == 3 && image.pixels.size() == N * 3 && N > 0,
             "dense_crf: expected an RGB image, got ", image.height, "x", image.width, "x",
             image.channels);
    PG_CHECK(C >= 1 && probs.size() == N * C, "dense_crf: expected (", image.height, ", ",
             image.width, ", ", C, ") probabilities, got ", probs.size(), " values");
    PG_CHECK(o.iterations >= 0, "dense_crf: iterations ", o.iterations, " must be >= 0");
    PG_CHECK(o.gaussian_sxy > 0 && o.bilateral_sxy > 0 && o.bilateral_srgb > 0,
             "dense_crf: kernel widths must be > 0, got gaussian_sxy ", o.gaussian_sxy,
             ", bilateral_sxy ", o.bilateral_sxy, ", bilateral_srgb ", o.bilateral_srgb);
    for (size_t i = 0; i < probs.size(); i++)
        PG_CHECK(probs[i] > 0 && probs[i] <= 1, "dense_crf: probability ", probs[i], " at pixel ",
                 i / C, " class ", i % C, " is not in (0, 1]");
}

// Feature vectors of the two kernels: position / sxy and (position / sxy, colour / srgb).
std::vector<float> kernel_features(const Image& image, float sxy, float srgb, bool colour) {
    const int H = image.height, W = image.width, d = colour ? 5 : 2;
    std::vector<float> f(size_t(H) * W * d);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t p = size_t(y) * W + x;
            f[p * d] = x / sxy, f[p * d + 1] = y / sxy;
            for (int c = 0; colour && c < 3; c++) f[p * d + 2 + c] = image.pixels[p * 3 + c] / srgb;
        }
    return f;
}

// Q_i(l) = softmax_l(log P_i(l) + message_i(l)), the message being sum_j k(i, j) Q_j(l).
std::vector<float>
mean_field(const std::vector<float>& probs, int C, int iterations,
           const std::function<std::vector<float>(const std::vector<float>&)>& message) {
    std::vector<float> log_p(probs.size()), q = probs;
    for (size_t i = 0; i < probs.size(); i++) log_p[i] = std::log(probs[i]);
    const size_t N = probs.size() / C;
    std::vector<float> logits(C);
    for (int it = 0; it < iterations; it++) {
        std::vector<float> m = message(q);
        for (size_t n = 0; n < N; n++) {
            float top = -INFINITY;
            for (int l = 0; l < C; l++)
                logits[l] = log_p[n * C + l] + m[n * C + l], top = std::max(top, logits[l]);
            float sum = 0;
            for (int l = 0; l < C; l++) sum += logits[l] = std::exp(logits[l] - top);
            for (int l = 0; l < C; l++) q[n * C + l] = logits[l] / sum;
        }
    }
    return q;
}

} // namespace

std::vector<float> dense_crf(const Image& image, const std::vector<float>& probs, int C,
                             const DenseCrfOptions& o) {
    check_inputs(image, probs, C, o);
    if (o.iterations == 0) return probs;
    const int N = image.height * image.width;
    PermutohedralLattice smooth(kernel_features(image, o.gaussian_sxy, 1, false), N, 2);
    PermutohedralLattice appearance(kernel_features(image, o.bilateral_sxy, o.bilateral_srgb, true),
                                    N, 5);
    return mean_field(probs, C, o.iterations, [&](const std::vector<float>& q) {
        std::vector<float> a = smooth.filter(q, C), b = appearance.filter(q, C);
        for (size_t i = 0; i < a.size(); i++)
            a[i] = o.gaussian_weight * a[i] + o.bilateral_weight * b[i];
        return a;
    });
}

std::vector<float> dense_crf_brute_force(const Image& image, const std::vector<float>& probs, int C,
                                         const DenseCrfOptions& o) {
    check_inputs(image, probs, C, o);
    const int N = image.height * image.width, W = image.width;
    // k(i, j) for all pairs, (N, N): the reference spends memory to stay obviously right.
    std::vector<float> kernel(size_t(N) * N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            float dx = float(i % W - j % W), dy = float(i / W - j / W), dc = 0;
            for (int c = 0; c < 3; c++) {
                float diff =
                    float(image.pixels[size_t(i) * 3 + c]) - image.pixels[size_t(j) * 3 + c];
                dc += diff * diff;
            }
            float dp = dx * dx + dy * dy;
            kernel[size_t(i) * N + j] =
                o.gaussian_weight * std::exp(-dp / (2 * o.gaussian_sxy * o.gaussian_sxy)) +
                o.bilateral_weight * std::exp(-dp / (2 * o.bilateral_sxy * o.bilateral_sxy) -
                                              dc / (2 * o.bilateral_srgb * o.bilateral_srgb));
        }
    return mean_field(probs, C, o.iterations, [&](const std::vector<float>& q) {
        std::vector<float> m(q.size(), 0.0f);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                float k = kernel[size_t(i) * N + j];
                for (int l = 0; l < C; l++) m[size_t(i) * C + l] += k * q[size_t(j) * C + l];
            }
        return m;
    });
}

} // namespace pg::seg
