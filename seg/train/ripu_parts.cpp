// RIPU's small pieces (seg/train/ripu_parts.h): scores and selection on host arrays (one image at a
// time, at native resolution), the regularisers with autograd ops.
#include "seg/train/ripu_parts.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/elementwise.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/pool.h"
#include "autograd/reduce.h"
#include "autograd/softmax.h"
#include "tensor/error.h"

namespace pg::seg::ripu {

static constexpr float kLogEps = 1e-6f; // the original's ln(x + 1e-6)

static void check_probs(const Tensor& probs, const char* what) {
    PG_CHECK(probs.dim() == 3 && probs.dtype() == DType::f32 && probs.device().is_cpu(), what,
             ": expected probabilities (H, W, C) f32 on the CPU, got ", shape_str(probs.shape()));
}

Tensor pixel_entropy(const Tensor& probs) {
    check_probs(probs, "ripu::pixel_entropy");
    const int64_t HW = probs.size(0) * probs.size(1), C = probs.size(2);
    const float inv_log_c = 1.f / std::log(float(C));
    Tensor h = Tensor::empty({probs.size(0), probs.size(1)});
    const float* p = probs.f32();
    float* out = h.f32();
    for (int64_t i = 0; i < HW; ++i) {
        float e = 0.f;
        for (int64_t c = 0; c < C; ++c) e -= p[i * C + c] * std::log(p[i * C + c] + kLogEps);
        out[i] = e * inv_log_c;
    }
    return h;
}

Tensor window_sum(const Tensor& x, int64_t k) {
    PG_CHECK(x.dim() == 3 && x.dtype() == DType::f32 && x.device().is_cpu() && k >= 0,
             "ripu::window_sum: expected (H, W, K) f32 on the CPU and k >= 0, got ",
             shape_str(x.shape()), ", k ", k);
    const int64_t H = x.size(0), W = x.size(1), K = x.size(2);
    // S[y][x] = sum of rows < y, columns < x (double: sums of a million pixels stay exact enough).
    std::vector<double> S(size_t((H + 1) * (W + 1) * K), 0.0);
    auto at = [&](int64_t y, int64_t xx) { return S.data() + (y * (W + 1) + xx) * K; };
    const float* in = x.f32();
    for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx)
            for (int64_t c = 0; c < K; ++c)
                at(y + 1, xx + 1)[c] =
                    in[(y * W + xx) * K + c] + at(y, xx + 1)[c] + at(y + 1, xx)[c] - at(y, xx)[c];
    Tensor out = Tensor::empty(x.shape());
    float* o = out.f32();
    for (int64_t y = 0; y < H; ++y) {
        int64_t y0 = std::max<int64_t>(0, y - k), y1 = std::min(H, y + k + 1);
        for (int64_t xx = 0; xx < W; ++xx) {
            int64_t x0 = std::max<int64_t>(0, xx - k), x1 = std::min(W, xx + k + 1);
            for (int64_t c = 0; c < K; ++c)
                o[(y * W + xx) * K + c] =
                    float(at(y1, x1)[c] - at(y0, x1)[c] - at(y1, x0)[c] + at(y0, x0)[c]);
        }
    }
    return out;
}

// Pixels of each window inside the image: (min(y+k, H-1) - max(y-k, 0) + 1) x (same for x).
static float window_pixels(int64_t y, int64_t x, int64_t H, int64_t W, int64_t k) {
    int64_t rows = std::min(H - 1, y + k) - std::max<int64_t>(0, y - k) + 1;
    int64_t cols = std::min(W - 1, x + k) - std::max<int64_t>(0, x - k) + 1;
    return float(rows * cols);
}

Tensor region_uncertainty(const Tensor& entropy, int64_t k) {
    PG_CHECK(entropy.dim() == 2, "ripu::region_uncertainty: expected (H, W), got ",
             shape_str(entropy.shape()));
    const int64_t H = entropy.size(0), W = entropy.size(1);
    Tensor sums = window_sum(entropy.alias_with_shape({H, W, 1}), k);
    Tensor u = Tensor::empty({H, W});
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
            u.f32()[y * W + x] = sums.f32()[y * W + x] / window_pixels(y, x, H, W, k);
    return u;
}

Tensor region_impurity(const Tensor& probs, int64_t k) {
    check_probs(probs, "ripu::region_impurity");
    const int64_t H = probs.size(0), W = probs.size(1), C = probs.size(2);
    // One-hot of the argmax, summed over the window: n_c per pixel.
    Tensor onehot = Tensor::zeros({H, W, C});
    const float* p = probs.f32();
    for (int64_t i = 0; i < H * W; ++i) {
        int64_t best = std::max_element(p + i * C, p + (i + 1) * C) - (p + i * C);
        onehot.f32()[i * C + best] = 1.f;
    }
    Tensor counts = window_sum(onehot, k);
    const float inv_log_c = 1.f / std::log(float(C));
    Tensor out = Tensor::empty({H, W});
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
            const float* n_c = counts.f32() + (y * W + x) * C;
            float n = window_pixels(y, x, H, W, k), e = 0.f;
            for (int64_t c = 0; c < C; ++c) e -= n_c[c] / n * std::log(n_c[c] / n + kLogEps);
            out.f32()[y * W + x] = e * inv_log_c;
        }
    return out;
}

Selection parse_selection(const std::string& name, const std::string& where) {
    if (name == "region") return Selection::region;
    if (name == "pixel") return Selection::pixel;
    if (name == "random") return Selection::random;
    if (name == "full") return Selection::full;
    throw Error(where + " is '" + name + "', expected region, pixel, random or full");
}

const char* selection_name(Selection s) {
    switch (s) {
    case Selection::region:
        return "region";
    case Selection::pixel:
        return "pixel";
    case Selection::random:
        return "random";
    case Selection::full:
        return "full";
    }
    return "?";
}

Tensor acquisition_score(const Tensor& probs, Selection s, int64_t k) {
    PG_CHECK(s == Selection::region || s == Selection::pixel, "ripu::acquisition_score: selection ",
             selection_name(s), " has no score");
    Tensor h = pixel_entropy(probs);
    Tensor impurity = region_impurity(probs, k);
    Tensor first = s == Selection::region ? region_uncertainty(h, k) : h;
    Tensor score = Tensor::empty(h.shape());
    for (int64_t i = 0; i < h.numel(); ++i) score.f32()[i] = first.f32()[i] * impurity.f32()[i];
    return score;
}

int64_t regions_per_round(int64_t height, int64_t width, double ratio, int64_t rounds, int64_t k) {
    PG_CHECK(ratio > 0 && ratio <= 1 && rounds >= 1 && k >= 0,
             "ripu: a region budget needs 0 < ratio <= 1, rounds >= 1 and k >= 0 (got ratio ",
             ratio, ", ", rounds, " rounds, k ", k, ")");
    double side = double(2 * k + 1);
    return int64_t(std::ceil(double(height * width) * (ratio / double(rounds)) / (side * side)));
}

int64_t pixels_per_round(int64_t height, int64_t width, int64_t train_height, int64_t train_width,
                         int64_t pixels, int64_t rounds) {
    PG_CHECK(pixels >= 1 && rounds >= 1 && train_height >= 1 && train_width >= 1,
             "ripu: a pixel budget needs pixels, rounds and the training size >= 1");
    double scale = double(height * width) / double(train_height * train_width);
    return int64_t(std::ceil(double(pixels) * scale / double(rounds)));
}

ActiveMaps ActiveMaps::empty(int64_t height, int64_t width) {
    ActiveMaps m;
    m.height = height, m.width = width;
    m.labels.assign(size_t(height * width), 255);
    m.active.assign(size_t(height * width), 0);
    m.selected.assign(size_t(height * width), 0);
    return m;
}

int64_t ActiveMaps::selected_count() const {
    return std::count(selected.begin(), selected.end(), uint8_t(1));
}

// Calls f(pixel index) for every pixel of the window of `radius` around `centre`, clipped.
template <typename F>
static void for_window(int64_t centre, int64_t radius, int64_t H, int64_t W, F f) {
    int64_t cy = centre / W, cx = centre % W;
    for (int64_t y = std::max<int64_t>(0, cy - radius); y <= std::min(H - 1, cy + radius); ++y)
        for (int64_t x = std::max<int64_t>(0, cx - radius); x <= std::min(W - 1, cx + radius); ++x)
            f(y * W + x);
}

std::vector<int64_t> greedy_select(const Tensor& score, int64_t count, int64_t label_radius,
                                   int64_t block_radius, const std::vector<int32_t>& truth,
                                   ActiveMaps& maps) {
    const int64_t H = maps.height, W = maps.width;
    PG_CHECK(score.dim() == 2 && score.size(0) == H && score.size(1) == W &&
                 int64_t(truth.size()) == H * W,
             "ripu::greedy_select: score ", shape_str(score.shape()), " and truth (", truth.size(),
             " pixels) must match the maps' ", H, "x", W);
    // Repeated argmax with -inf on blocked pixels is the walk down one sort (score descending,
    // index ascending) that skips blocked pixels: blocking only ever removes candidates.
    const float* s = score.f32();
    std::vector<int64_t> order(size_t(H * W));
    std::iota(order.begin(), order.end(), int64_t(0));
    std::stable_sort(order.begin(), order.end(), [s](int64_t a, int64_t b) { return s[a] > s[b]; });
    std::vector<int64_t> picks;
    for (int64_t p : order) {
        if (int64_t(picks.size()) >= count) break;
        if (maps.active[size_t(p)]) continue;
        picks.push_back(p);
        for_window(p, label_radius, H, W, [&](int64_t q) {
            maps.labels[size_t(q)] = uint8_t(truth[size_t(q)] == 255 ? 255 : truth[size_t(q)]);
            maps.selected[size_t(q)] = 1;
        });
        for_window(p, block_radius, H, W, [&](int64_t q) { maps.active[size_t(q)] = 1; });
    }
    return picks;
}

Tensor random_score(int64_t height, int64_t width, Generator& gen) {
    return Tensor::uniform({height, width}, gen);
}

Tensor negative_learning_loss(const Tensor& logits, float tau) {
    Tensor p = softmax(logits);
    Tensor mask = cast(lt(p.detach(), tau), DType::f32); // no gradient through M
    Tensor kept = sum(mask);
    if (kept.item() == 0.f) return mul(sum(p), 0.f);
    Tensor per_pixel = neg(log(add(rsub(1.f, p), kLogEps)));
    return div(sum(mul(per_pixel, mask)), kept);
}

Tensor label_boundaries(const Tensor& labels) {
    PG_CHECK(labels.dim() == 3, "ripu::label_boundaries: expected labels (N, H, W), got ",
             shape_str(labels.shape()));
    const int64_t N = labels.size(0), H = labels.size(1), W = labels.size(2);
    std::vector<int32_t> l = labels.to_i32_vector();
    std::vector<uint8_t> out(l.size(), 0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                const int64_t i = (n * H + y) * W + x;
                int64_t lap = 8 * int64_t(l[size_t(i)]);
                for (int64_t dy = -1; dy <= 1; ++dy)
                    for (int64_t dx = -1; dx <= 1; ++dx) {
                        int64_t yy = y + dy, xx = x + dx;
                        if ((dy || dx) && yy >= 0 && yy < H && xx >= 0 && xx < W)
                            lap -= l[size_t((n * H + yy) * W + xx)];
                    }
                out[size_t(i)] = lap != 0 && l[size_t(i)] != 255;
            }
    return Tensor::from_vector(out, labels.shape()).to(labels.device());
}

// x (N, H, W, C) -> (N, H + 2, W + 2, C), the border rows and columns repeated.
static Tensor replicate_pad1(const Tensor& x) {
    const int64_t H = x.size(1), W = x.size(2);
    Tensor rows = concat({narrow(x, 1, 0, 1), x, narrow(x, 1, H - 1, 1)}, 1);
    return concat({narrow(rows, 2, 0, 1), rows, narrow(rows, 2, W - 1, 1)}, 2);
}

Tensor local_consistency_loss(const Tensor& logits, const Tensor& labels) {
    PG_CHECK(logits.dim() == 4 && labels.dim() == 3 && logits.size(0) == labels.size(0) &&
                 logits.size(1) == labels.size(1) && logits.size(2) == labels.size(2),
             "ripu::local_consistency_loss: logits ", shape_str(logits.shape()), " and labels ",
             shape_str(labels.shape()), " must be (N, H, W, C) and (N, H, W)");
    Tensor p = softmax(logits);
    Tensor m = avg_pool2d(replicate_pad1(p), 3, 1, 0); // (N, H, W, C)
    Tensor d = sum(abs(sub(p, m)), 3);                 // (N, H, W)
    Tensor mask = cast(label_boundaries(labels), DType::f32);
    Tensor count = sum(mask);
    if (count.item() == 0.f) return mul(sum(d), 0.f);
    return div(sum(mul(d, mask)), count);
}

} // namespace pg::seg::ripu
