// U2PL's entropy split, unsupervised loss and CutMix (seg/train/u2pl_parts.h).
#include "seg/train/u2pl_parts.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/losses.h"
#include "tensor/error.h"

namespace pg::seg::u2pl {

double unreliable_percent(double base, int64_t epoch, double epochs) {
    PG_CHECK(epochs > 0, "u2pl: the schedule needs epochs > 0, got ", epochs);
    return base * (1.0 - double(epoch) / epochs);
}

// Pseudo-labels as f32 (exact for class ids) so the f32 comparisons and where() apply.
static Tensor labels_f32(const Tensor& target) {
    PG_CHECK(target.dtype() == DType::i32, "u2pl: pseudo-labels must be i32, got ",
             dtype_name(target.dtype()));
    return cast(target, DType::f32);
}

float valid_percentile(const Tensor& values, const Tensor& target, double q) {
    PG_CHECK(values.shape() == target.shape(), "u2pl: values ", shape_str(values.shape()),
             " and pseudo-labels ", shape_str(target.shape()), " differ in shape");
    NoGradGuard no_grad;
    std::vector<int32_t> labels = target.to_i32_vector();
    size_t valid = 0;
    for (int32_t y : labels) valid += y != 255;
    PG_CHECK(valid > 0, "u2pl: no valid pixel to take the entropy percentile of");
    // Pseudo-labels from an argmax are all valid: the device computes the percentile itself.
    if (valid == labels.size()) return percentile(values, q);
    std::vector<float> host = values.to_f32_vector(), kept;
    for (size_t i = 0; i < labels.size(); i++)
        if (labels[i] != 255) kept.push_back(host[i]);
    return percentile(Tensor::from_vector(kept, {int64_t(kept.size())}), q);
}

EntropySplit drop_high_entropy(const Tensor& entropy, const Tensor& target, double alpha) {
    PG_CHECK(entropy.dim() == 3 && entropy.shape() == target.shape(), "u2pl: entropy ",
             shape_str(entropy.shape()), " and pseudo-labels ", shape_str(target.shape()),
             " must both be (N, H, W)");
    PG_CHECK(alpha >= 0 && alpha <= 100, "u2pl: the unreliable percentage is ", alpha,
             ", expected 0..100");
    NoGradGuard no_grad;
    EntropySplit split;
    split.threshold = valid_percentile(entropy, target, 100.0 - alpha);
    Tensor y = labels_f32(target);
    Tensor valid = ne(y, 255.f);
    Tensor drop = logical_and(ge(entropy, split.threshold), valid);
    split.valid = int64_t(sum(cast(valid, DType::f32)).item());
    split.kept = split.valid - int64_t(sum(cast(drop, DType::f32)).item());
    split.target = cast(where(drop, 255.f, y), DType::i32);
    return split;
}

Tensor unsup_loss(const Tensor& logits, const EntropySplit& split) {
    const Shape& s = split.target.shape();
    if (split.kept == 0) return Tensor::scalar(0.f, logits.device());
    // U2PL multiplies the mean over kept pixels by (all pixels / kept pixels).
    double weight = double(s[0] * s[1] * s[2]) / double(split.kept);
    return mul(nn::cross_entropy_2d(logits, split.target), float(weight));
}

PseudoLabelScore score_pseudo_labels(const Tensor& pseudo, const Tensor& kept, const Tensor& truth,
                                     int64_t num_classes) {
    PG_CHECK(pseudo.shape() == kept.shape() && pseudo.shape() == truth.shape(), "u2pl: pseudo ",
             shape_str(pseudo.shape()), ", kept ", shape_str(kept.shape()), " and truth ",
             shape_str(truth.shape()), " must have one shape");
    std::vector<int32_t> p = pseudo.to_i32_vector(), k = kept.to_i32_vector(),
                         t = truth.to_i32_vector();
    size_t C = size_t(num_classes);
    std::vector<int64_t> kept_as(C, 0), kept_right(C, 0);
    int64_t scored = 0, right = 0, kept_scored = 0;
    for (size_t i = 0; i < p.size(); i++) {
        if (t[i] == 255 || p[i] == 255) continue;
        scored++;
        right += p[i] == t[i];
        if (k[i] == 255) continue;
        PG_CHECK(k[i] >= 0 && size_t(k[i]) < C, "u2pl: pseudo-label ", k[i], " outside 0..",
                 num_classes - 1);
        kept_scored++;
        kept_as[size_t(k[i])]++;
        kept_right[size_t(k[i])] += k[i] == t[i];
    }
    PseudoLabelScore s;
    int64_t kept_right_all = 0;
    for (size_t c = 0; c < C; c++) {
        kept_right_all += kept_right[c];
        s.precision.push_back(kept_as[c] ? double(kept_right[c]) / double(kept_as[c]) : -1.0);
        s.kept_share.push_back(kept_scored ? double(kept_as[c]) / double(kept_scored) : 0.0);
    }
    s.accuracy = scored ? double(right) / double(scored) : 0.0;
    s.reliable_accuracy = kept_scored ? double(kept_right_all) / double(kept_scored) : 0.0;
    return s;
}

CutMixBox sample_cutmix_box(int64_t height, int64_t width, Generator& gen) {
    PG_CHECK(height >= 3 && width >= 3, "u2pl: CutMix needs a crop of at least 3 x 3, got ", height,
             "x", width);
    double area = double(height) * double(width) / 2.0;
    CutMixBox box;
    box.width = gen.randint(width / 2 + 1, width);
    // numpy.round rounds halves to even, as nearbyint does in the default rounding mode.
    box.height = std::min<int64_t>(height, int64_t(std::nearbyint(area / double(box.width))));
    box.left = gen.randint(0, width - box.width + 1);
    box.top = gen.randint(0, height - box.height + 1);
    return box;
}

Tensor cutmix(const Tensor& x, const std::vector<CutMixBox>& boxes) {
    PG_CHECK(x.dim() == 3 || x.dim() == 4, "u2pl: cutmix expects (N, H, W) or (N, H, W, C), got ",
             shape_str(x.shape()));
    int64_t n = x.size(0), h = x.size(1), w = x.size(2);
    PG_CHECK(int64_t(boxes.size()) == n, "u2pl: cutmix got ", boxes.size(), " boxes for ", n,
             " images");
    NoGradGuard no_grad;
    // mask (N, H, W[, 1]): 1 inside image i's box, where the next image shows through.
    std::vector<float> mask(size_t(n * h * w), 0.f);
    for (int64_t i = 0; i < n; i++) {
        const CutMixBox& b = boxes[size_t(i)];
        PG_CHECK(b.top >= 0 && b.left >= 0 && b.top + b.height <= h && b.left + b.width <= w,
                 "u2pl: CutMix box (", b.top, ", ", b.left, ", ", b.height, ", ", b.width,
                 ") does not fit a ", h, "x", w, " image");
        for (int64_t r = b.top; r < b.top + b.height; r++)
            for (int64_t c = b.left; c < b.left + b.width; c++)
                mask[size_t((i * h + r) * w + c)] = 1.f;
    }
    Shape mask_shape = x.dim() == 4 ? Shape{n, h, w, 1} : Shape{n, h, w};
    Tensor m = Tensor::from_vector(mask, mask_shape, x.device());
    bool integer = x.dtype() == DType::i32;
    PG_CHECK(integer || x.dtype() == DType::f32, "u2pl: cutmix takes f32 or i32, got ",
             dtype_name(x.dtype()));
    Tensor v = integer ? cast(x, DType::f32) : x.detach();
    Tensor next = n == 1 ? v : concat({narrow(v, 0, 1, n - 1), narrow(v, 0, 0, 1)}, 0);
    // m is 0 or 1, so x (1 - m) + next m is an exact selection.
    Tensor mixed = add(mul(v, rsub(1.f, m)), mul(next, m));
    return integer ? cast(mixed, DType::i32) : mixed;
}

} // namespace pg::seg::u2pl
