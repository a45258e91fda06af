// SLIC superpixels (slic.h): grid seeding, the windowed k-means in Lab + xy, and the connectivity
// pass that merges small or detached fragments into the neighbour met first in raster order.
#include "seg/correct/slic.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/error.h"

namespace pg::seg {

// sRGB gamma -> linear light, then XYZ (D65 white), then Lab with the CIE 1976 cube-root curve.
static float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f);
}
static float lab_curve(float t) {
    const float eps = 216.0f / 24389.0f, kappa = 24389.0f / 27.0f;
    return t > eps ? std::cbrt(t) : (kappa * t + 16.0f) / 116.0f;
}

std::vector<float> rgb_to_lab(const Image& image) {
    PG_CHECK(image.channels == 3, "slic: expected an RGB image (3 channels), got ", image.channels);
    const size_t n = size_t(image.height) * image.width;
    std::vector<float> lab(n * 3);
    float table[256]; // 8-bit sRGB -> linear, computed once
    for (int v = 0; v < 256; v++) table[v] = srgb_to_linear(v / 255.0f);
    for (size_t p = 0; p < n; p++) {
        const uint8_t* px = &image.pixels[p * 3];
        float r = table[px[0]], g = table[px[1]], b = table[px[2]];
        float x = (0.4124564f * r + 0.3575761f * g + 0.1804375f * b) / 0.95047f;
        float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
        float z = (0.0193339f * r + 0.1191920f * g + 0.9503041f * b) / 1.08883f;
        float fx = lab_curve(x), fy = lab_curve(y), fz = lab_curve(z);
        lab[p * 3 + 0] = 116.0f * fy - 16.0f;
        lab[p * 3 + 1] = 500.0f * (fx - fy);
        lab[p * 3 + 2] = 200.0f * (fy - fz);
    }
    return lab;
}

namespace {

struct Centre {
    float l, a, b, x, y;
};

// Squared colour gradient at (x, y) from its 4 neighbours (clamped at the border).
float lab_gradient(const std::vector<float>& lab, int H, int W, int x, int y) {
    auto at = [&](int xx, int yy, int c) {
        xx = std::clamp(xx, 0, W - 1), yy = std::clamp(yy, 0, H - 1);
        return lab[(size_t(yy) * W + xx) * 3 + c];
    };
    float g = 0;
    for (int c = 0; c < 3; c++) {
        float dx = at(x + 1, y, c) - at(x - 1, y, c), dy = at(x, y + 1, c) - at(x, y - 1, c);
        g += dx * dx + dy * dy;
    }
    return g;
}

// Centres on a grid of about K cells (rows x cols chosen to keep cells square), each moved to the
// lowest-gradient pixel of its 3x3 neighbourhood so that no seed sits on an edge.
std::vector<Centre> seed_centres(const std::vector<float>& lab, int H, int W, int K) {
    const double step = std::sqrt(double(H) * W / K);
    const int rows = std::max(1, int(std::lround(H / step)));
    const int cols = std::max(1, int(std::lround(W / step)));
    std::vector<Centre> centres;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            int x = std::min(W - 1, int((c + 0.5) * W / cols));
            int y = std::min(H - 1, int((r + 0.5) * H / rows));
            int bx = x, by = y;
            float best = lab_gradient(lab, H, W, x, y);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                    float g = lab_gradient(lab, H, W, xx, yy);
                    if (g < best) best = g, bx = xx, by = yy;
                }
            const float* p = &lab[(size_t(by) * W + bx) * 3];
            centres.push_back({p[0], p[1], p[2], float(bx), float(by)});
        }
    }
    return centres;
}

// One assignment + update round: each centre claims the pixels of its (2S+1)^2 window that are
// nearer to it than to any centre seen so far; centres move to their pixels' means.
void kmeans_round(const std::vector<float>& lab, int H, int W, int step, float spatial_weight,
                  std::vector<Centre>& centres, std::vector<int32_t>& labels) {
    std::vector<float> distance(size_t(H) * W, std::numeric_limits<float>::max());
    for (size_t k = 0; k < centres.size(); k++) {
        const Centre& c = centres[k];
        int x0 = std::max(0, int(c.x) - step), x1 = std::min(W - 1, int(c.x) + step);
        int y0 = std::max(0, int(c.y) - step), y1 = std::min(H - 1, int(c.y) + step);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                size_t p = size_t(y) * W + x;
                float dl = lab[p * 3] - c.l, da = lab[p * 3 + 1] - c.a, db = lab[p * 3 + 2] - c.b;
                float dx = x - c.x, dy = y - c.y;
                float d = dl * dl + da * da + db * db + spatial_weight * (dx * dx + dy * dy);
                if (d < distance[p]) distance[p] = d, labels[p] = int32_t(k);
            }
    }
    std::vector<double> sum(centres.size() * 5, 0.0);
    std::vector<int64_t> count(centres.size(), 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t p = size_t(y) * W + x;
            int32_t k = labels[p];
            if (k < 0) continue; // outside every window (cannot happen with 2S windows; kept safe)
            double* s = &sum[size_t(k) * 5];
            s[0] += lab[p * 3], s[1] += lab[p * 3 + 1], s[2] += lab[p * 3 + 2], s[3] += x,
                s[4] += y;
            count[k]++;
        }
    for (size_t k = 0; k < centres.size(); k++) {
        if (count[k] == 0) continue; // an empty cluster keeps its centre
        const double* s = &sum[k * 5];
        double inv = 1.0 / count[k];
        centres[k] = {float(s[0] * inv), float(s[1] * inv), float(s[2] * inv), float(s[3] * inv),
                      float(s[4] * inv)};
    }
}

// Connectivity: walk the 4-connected components of equal label in raster order. A component
// smaller than min_size joins the final superpixel of the pixel left of / above its first pixel
// (already final, and touching it, so the union stays connected); larger ones get a new id.
int enforce_connectivity(std::vector<int32_t>& labels, int H, int W, int64_t min_size) {
    std::vector<int32_t> final_id(labels.size(), -1);
    std::vector<int32_t> queue;
    int next_id = 0;
    const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t start = size_t(y) * W + x;
            if (final_id[start] >= 0) continue;
            int32_t neighbour_id = -1;
            if (x > 0)
                neighbour_id = final_id[start - 1];
            else if (y > 0)
                neighbour_id = final_id[start - W];
            queue.assign(1, int32_t(start));
            final_id[start] = next_id;
            for (size_t head = 0; head < queue.size(); head++) {
                int px = queue[head] % W, py = queue[head] / W;
                for (int d = 0; d < 4; d++) {
                    int qx = px + dx[d], qy = py + dy[d];
                    if (qx < 0 || qy < 0 || qx >= W || qy >= H) continue;
                    size_t q = size_t(qy) * W + qx;
                    if (final_id[q] >= 0 || labels[q] != labels[start]) continue;
                    final_id[q] = next_id;
                    queue.push_back(int32_t(q));
                }
            }
            if (int64_t(queue.size()) < min_size && neighbour_id >= 0) {
                for (int32_t p : queue) final_id[p] = neighbour_id;
            } else {
                next_id++;
            }
        }
    labels.swap(final_id);
    return next_id;
}

} // namespace

int segments_for_area(int height, int width, double pixels_per_superpixel) {
    return std::max(1, int(std::lround(double(height) * width / pixels_per_superpixel)));
}

Superpixels slic(const Image& image, const SlicOptions& o) {
    const int H = image.height, W = image.width;
    PG_CHECK(H > 0 && W > 0 && image.pixels.size() == size_t(H) * W * 3,
             "slic: expected an RGB image with H x W x 3 bytes, got ", H, "x", W, "x",
             image.channels, " with ", image.pixels.size(), " bytes");
    PG_CHECK(o.num_segments >= 1, "slic: num_segments ", o.num_segments, " must be >= 1");
    PG_CHECK(o.compactness > 0, "slic: compactness ", o.compactness, " must be > 0");
    PG_CHECK(o.iterations >= 1, "slic: iterations ", o.iterations, " must be >= 1");
    PG_CHECK(o.min_size_factor >= 0 && o.min_size_factor < 1, "slic: min_size_factor ",
             o.min_size_factor, " must be in [0, 1)");
    const int K = std::min<int64_t>(o.num_segments, int64_t(H) * W);
    const std::vector<float> lab = rgb_to_lab(image);
    std::vector<Centre> centres = seed_centres(lab, H, W, K);
    const double step = std::sqrt(double(H) * W / K);
    const int window = std::max(1, int(std::ceil(step)));
    // (m / S)^2: a distance of S in space weighs as much as a colour distance of m.
    const float spatial_weight = float(o.compactness * o.compactness / (step * step));
    Superpixels s;
    s.labels.assign(size_t(H) * W, -1);
    for (int it = 0; it < o.iterations; it++)
        kmeans_round(lab, H, W, window, spatial_weight, centres, s.labels);
    const int64_t min_size = int64_t(o.min_size_factor * double(H) * W / K);
    s.count = enforce_connectivity(s.labels, H, W, min_size);
    return s;
}

} // namespace pg::seg
