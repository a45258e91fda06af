// RIPU's small pieces (seg/train/ripu_parts.h): scores and selection on host arrays (one image at a
// time, at native resolution), the regularisers with autograd ops.
#include "seg/train/ripu_parts.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/elementwise.h"
#include "autograd/index.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/pool.h"
#include "autograd/reduce.h"
#include "autograd/softmax.h"
#include "nn/data_parallel.h"
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

// out[y][x] = sum of in over rows y-k..y+k and columns x-k..x+k clipped to the image, for one
// (H, W) plane: a running sum along each row, then along each column (doubles: exact for the
// counts and sums of a million pixels). O(H W) whatever k.
static void box_sum_plane(const float* in, int64_t H, int64_t W, int64_t k, float* out,
                          std::vector<double>& rows) {
    rows.assign(size_t(H * W), 0.0);
    std::vector<double> prefix(size_t(std::max(H, W) + 1));
    for (int64_t y = 0; y < H; ++y) {
        for (int64_t x = 0; x < W; ++x) prefix[size_t(x + 1)] = prefix[size_t(x)] + in[y * W + x];
        for (int64_t x = 0; x < W; ++x)
            rows[size_t(y * W + x)] = prefix[size_t(std::min(W, x + k + 1))] -
                                      prefix[size_t(std::max<int64_t>(0, x - k))];
    }
    for (int64_t x = 0; x < W; ++x) {
        for (int64_t y = 0; y < H; ++y)
            prefix[size_t(y + 1)] = prefix[size_t(y)] + rows[size_t(y * W + x)];
        for (int64_t y = 0; y < H; ++y)
            out[y * W + x] = float(prefix[size_t(std::min(H, y + k + 1))] -
                                   prefix[size_t(std::max<int64_t>(0, y - k))]);
    }
}

Tensor window_sum(const Tensor& x, int64_t k) {
    PG_CHECK(x.dim() == 3 && x.dtype() == DType::f32 && x.device().is_cpu() && k >= 0,
             "ripu::window_sum: expected (H, W, K) f32 on the CPU and k >= 0, got ",
             shape_str(x.shape()), ", k ", k);
    const int64_t H = x.size(0), W = x.size(1), K = x.size(2);
    Tensor out = Tensor::empty(x.shape());
    std::vector<float> plane(size_t(H * W)), summed(size_t(H * W));
    std::vector<double> scratch;
    for (int64_t c = 0; c < K; ++c) {
        for (int64_t i = 0; i < H * W; ++i) plane[size_t(i)] = x.f32()[i * K + c];
        box_sum_plane(plane.data(), H, W, k, summed.data(), scratch);
        for (int64_t i = 0; i < H * W; ++i) out.f32()[i * K + c] = summed[size_t(i)];
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
    const int64_t H = probs.size(0), W = probs.size(1), C = probs.size(2), HW = H * W;
    std::vector<int32_t> winner(static_cast<size_t>(HW));
    std::vector<bool> present(size_t(C), false);
    const float* p = probs.f32();
    for (int64_t i = 0; i < HW; ++i) {
        winner[size_t(i)] = int32_t(std::max_element(p + i * C, p + (i + 1) * C) - (p + i * C));
        present[size_t(winner[size_t(i)])] = true;
    }
    // winner: the argmax class per pixel. One class at a time: n_c = the window sum of its
    // indicator, P -= q ln(q + eps) with q = n_c / n. A class predicted nowhere adds q = 0
    // everywhere (0 ln eps = 0) and is skipped.
    const size_t count = static_cast<size_t>(HW);
    std::vector<float> indicator(count), n_c(count), in_window(count);
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) in_window[size_t(y * W + x)] = window_pixels(y, x, H, W, k);
    std::vector<double> scratch;
    std::vector<float> impurity(count, 0.f);
    for (int64_t c = 0; c < C; ++c) {
        if (!present[size_t(c)]) continue;
        for (int64_t i = 0; i < HW; ++i) indicator[size_t(i)] = winner[size_t(i)] == c;
        box_sum_plane(indicator.data(), H, W, k, n_c.data(), scratch);
        for (int64_t i = 0; i < HW; ++i) {
            if (n_c[size_t(i)] == 0.f) continue; // most windows miss most classes: no log
            float q = n_c[size_t(i)] / in_window[size_t(i)];
            impurity[size_t(i)] -= q * std::log(q + kLogEps);
        }
    }
    const float inv_log_c = 1.f / std::log(float(C));
    Tensor out = Tensor::empty({H, W});
    for (int64_t i = 0; i < HW; ++i) out.f32()[i] = impurity[size_t(i)] * inv_log_c;
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

// -sum_c q_c ln(q_c + eps) / ln C over the last axis: (1, H, W, C) -> (1, H, W).
static Tensor normalised_entropy(const Tensor& q) {
    Tensor e = neg(sum(mul(q, log(add(q, kLogEps))), 3));
    return mul(e, 1.f / std::log(float(q.size(3))));
}

// The mean of x (1, H, W, K) over each in-image (2k+1)^2 window.
static Tensor window_mean(const Tensor& x, int64_t k) {
    return avg_pool2d(x, 2 * k + 1, 1, k, /*ceil_mode=*/false, /*count_include_pad=*/false);
}

Tensor acquisition_score_ops(const Tensor& probs, Selection s, int64_t k) {
    PG_CHECK(probs.dim() == 3 && (s == Selection::region || s == Selection::pixel),
             "ripu::acquisition_score_ops: expected (H, W, C) probabilities and region or pixel");
    NoGradGuard no_grad;
    const int64_t H = probs.size(0), W = probs.size(1), C = probs.size(2);
    Tensor p = reshape(probs, {1, H, W, C});
    Tensor h = normalised_entropy(p); // (1, H, W)
    Tensor counts = window_mean(one_hot(argmax(p, 3), C, 255), k);
    Tensor impurity = normalised_entropy(counts);
    Tensor first =
        s == Selection::region ? reshape(window_mean(reshape(h, {1, H, W, 1}), k), {1, H, W}) : h;
    return reshape(mul(first, impurity), {H, W});
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
    // Repeated argmax with -inf on blocked pixels is a walk down the pixels in (score descending,
    // index ascending) order that skips blocked ones: blocking only ever removes candidates. Only
    // the head of that order is sorted (nth_element), the rest only if the head runs out.
    const float* s = score.f32();
    const int64_t N = H * W;
    for (int64_t i = 0; i < N; ++i)
        PG_CHECK(!std::isnan(s[i]), "ripu::greedy_select: the score is NaN at pixel ", i,
                 " (the prediction is not finite)");
    auto better = [s](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); };
    std::vector<int64_t> order(static_cast<size_t>(N));
    std::iota(order.begin(), order.end(), int64_t(0));
    const int64_t side = 2 * block_radius + 1;
    const int64_t head = std::min(N, std::max<int64_t>(4096, 4 * count * side * side));
    std::nth_element(order.begin(), order.begin() + head, order.end(), better);
    std::sort(order.begin(), order.begin() + head, better);
    std::vector<int64_t> picks;
    for (int64_t j = 0; j < N && int64_t(picks.size()) < count; ++j) {
        if (j == head) std::sort(order.begin() + head, order.end(), better);
        int64_t p = order[size_t(j)];
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
    Tensor per_pixel = neg(log(add(rsub(1.f, p), kLogEps)));
    // The mean over the kept pixels of the whole global batch (data parallel: of every process).
    return nn::global_batch_mean(sum(mul(per_pixel, mask)), sum(mask));
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
    // The mean over the boundary pixels of the whole global batch (data parallel: of every
    // process).
    return nn::global_batch_mean(sum(mul(d, mask)), sum(mask));
}

} // namespace pg::seg::ripu
