// predict_whole / predict_sliding (seg/inference.h).
#include "seg/inference.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "nn/losses.h"
#include "tensor/error.h"

namespace pg::seg {

// Logits of one forward, upsampled to the input's size; with flip, averaged with the mirrored
// prediction of the mirrored input.
static Tensor forward_full(nn::SegmentationNet& net, const Tensor& x, bool flip) {
    Tensor logits = nn::upsample_logits(net.forward(x).logits, x.size(1), x.size(2));
    if (!flip) return logits;
    Tensor mirrored =
        nn::upsample_logits(net.forward(flip_horizontal(x)).logits, x.size(1), x.size(2));
    return div(add(logits, flip_horizontal(mirrored)), 2.f);
}

Tensor predict_whole(nn::SegmentationNet& net, const Tensor& image, bool flip) {
    PG_CHECK(image.dim() == 4 && image.size(3) == 3, "predict_whole: expected (N, H, W, 3), got ",
             shape_str(image.shape()));
    NoGradGuard no_grad;
    return forward_full(net, image, flip);
}

// Window starts along one axis: 0, stride, 2 stride, ... with the last one moved back so that it
// ends at the border (U2PL: h1 = max(min(h1 + crop, H) - crop, 0)).
static std::vector<int64_t> window_starts(int64_t size, int64_t crop, int64_t stride) {
    if (size <= crop) return {0};
    int64_t n = (size - crop + stride - 1) / stride + 1;
    std::vector<int64_t> starts;
    for (int64_t i = 0; i < n; i++)
        starts.push_back(std::max(std::min(i * stride + crop, size) - crop, int64_t(0)));
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    return starts;
}

Tensor predict_sliding(nn::SegmentationNet& net, const Tensor& image, int64_t crop, int64_t stride,
                       bool flip) {
    PG_CHECK(image.dim() == 4 && image.size(3) == 3, "predict_sliding: expected (N, H, W, 3), got ",
             shape_str(image.shape()));
    PG_CHECK(crop > 0 && stride > 0 && stride <= crop, "predict_sliding: crop ", crop,
             " and stride ", stride,
             " must be positive with stride <= crop (windows must cover the image)");
    NoGradGuard no_grad;
    const int64_t h = image.size(1), w = image.size(2);
    const int64_t ch = std::min(crop, h), cw = std::min(crop, w);
    Tensor sum, count = Tensor::zeros({1, h, w, 1}, DType::f32, image.device());
    for (int64_t top : window_starts(h, crop, stride)) {
        for (int64_t left : window_starts(w, crop, stride)) {
            Tensor window = forward_full(net, pg::crop(image, top, left, ch, cw), flip);
            // Place the window's logits and a count of 1 into full-size zero canvases.
            int64_t bottom = h - top - ch, right = w - left - cw;
            Tensor placed = pad(window, top, bottom, left, right, 0.0);
            sum = sum.defined() ? add(sum, placed) : placed;
            count = add(count, pad(Tensor::ones({1, ch, cw, 1}, DType::f32, image.device()), top,
                                   bottom, left, right, 0.0));
        }
    }
    return div(sum, count);
}

Tensor predict_padded(nn::SegmentationNet& net, const Tensor& image, int64_t size, bool flip) {
    PG_CHECK(image.dim() == 4 && image.size(3) == 3, "predict_padded: expected (N, H, W, 3), got ",
             shape_str(image.shape()));
    PG_CHECK(size > 0, "predict_padded: size ", size, " must be positive");
    NoGradGuard no_grad;
    const int64_t h = image.size(1), w = image.size(2);
    Tensor padded =
        pad(image, 0, std::max<int64_t>(0, size - h), 0, std::max<int64_t>(0, size - w), 0.0);
    Tensor logits = forward_full(net, padded, flip); // (N, max(size, H), max(size, W), C)
    return narrow(narrow(logits, 1, 0, h), 2, 0, w);
}

Tensor predict_logits(nn::SegmentationNet& net, const Tensor& image, const EvalOptions& options) {
    if (options.mode == EvalMode::sliding)
        return predict_sliding(net, image, options.crop, options.stride, options.flip);
    if (options.mode == EvalMode::pad)
        return predict_padded(net, image, options.crop, options.flip);
    return predict_whole(net, image, options.flip);
}

Tensor predict_labels(const Tensor& logits) { return argmax(logits, -1); }

void check_finite_logits(const Tensor& logits, const std::string& what) {
    // A sum is non-finite exactly when some element is (or the logits are absurdly large).
    PG_CHECK(std::isfinite(sum(logits).item()), what,
             ": the logits hold NaN or Inf (non-finite weights or input); no prediction is made");
}

} // namespace pg::seg
