// Segmentation losses (nn/losses.h), composed from the engine's differentiable ops: every loss
// here ends in cross_entropy or bce_with_logits, so gradients come from their fused kernels.
// OHEM's pixel selection runs under NoGradGuard and only rewrites the label map.
#include "nn/losses.h"

#include <string>

#include "autograd/ops.h"
#include "nn/data_parallel.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {

namespace {

// Exact number of non-zero entries of a u8 mask. Summing an f32 copy of it in one go would round
// counts above 2^24 (a 16 x 1024 x 2048 batch); rows of the last axis are summed on the device
// (each row count is exact in f32) and the row counts are added on the host in int64.
int64_t count_nonzero(const Tensor& mask) {
    if (mask.numel() == 0) return 0;
    int64_t cols = mask.dim() > 0 ? mask.shape().back() : 1;
    Tensor ones = clamp(cast(mask, DType::f32), 0.f, 1.f); // any non-zero byte counts once
    std::vector<float> rows = sum(reshape(ones, {-1, cols}), 1).to_f32_vector();
    int64_t total = 0;
    for (float r : rows) total += int64_t(r);
    return total;
}

void check_nhwc_logits(const char* op, const Tensor& logits, const Tensor& target) {
    PG_CHECK(logits.defined() && target.defined(), op, ": logits or target is undefined");
    PG_CHECK(logits.dim() == 4, op, ": logits must be (N, h, w, C), got ",
             shape_str(logits.shape()));
    PG_CHECK(target.dim() == 3 && target.size(0) == logits.size(0), op, ": target ",
             shape_str(target.shape()), " must be (N, H, W) with N = ", logits.size(0),
             " like logits ", shape_str(logits.shape()));
}

} // namespace

// ---- OHEM ----

Tensor ohem_target(const Tensor& logits, const Tensor& target, const OhemOptions& options) {
    PG_CHECK(options.min_kept >= 0, "ohem_cross_entropy: min_kept must be >= 0, got ",
             options.min_kept);
    PG_CHECK(logits.defined() && target.defined(),
             "ohem_cross_entropy: logits or target is undefined");
    NoGradGuard no_grad;
    // nll (...) = -log softmax(x)[y] with 0 where ignored, so p = exp(-nll) is the target-class
    // probability of each pixel and exactly 1 for ignored ones (the original masks them to 1,
    // which ranks them last). cross_entropy also checks shapes, dtypes and label ranges.
    CrossEntropyOptions plain;
    plain.ignore_index = options.ignore_index;
    plain.reduction = Reduction::none;
    Tensor p = exp(neg(cross_entropy(logits.detach(), target, plain))); // (...)
    Tensor labels = cast(target, DType::f32);                           // (...) exact small ints
    float ignore = float(options.ignore_index);
    int64_t num_valid = count_nonzero(ne(labels, ignore));
    // U2PL: `if min_kept > num_valid: pass; elif num_valid > 0: ... if min_kept > 0: select`.
    if (options.min_kept > 0 && options.min_kept <= num_valid) {
        // The min_kept-th smallest p over all pixels. Ignored pixels (p = 1) rank no earlier than
        // any valid one (p <= 1), so it is the min_kept-th smallest valid p: the original's
        // index min(numel, min_kept) - 1 of its sort, as min_kept <= num_valid <= numel.
        float kth = kthvalue(p, options.min_kept);
        float threshold = kth > options.thresh ? kth : options.thresh; // NaN kth: thresh
        // Keep p <= threshold; anything else is dropped, a NaN p too (as torch's le gives).
        labels = masked_fill(labels, logical_not(le(p, threshold)), ignore);
    }
    return cast(labels, DType::i32);
}

Tensor ohem_cross_entropy(const Tensor& logits, const Tensor& target, const OhemOptions& options) {
    Tensor kept = ohem_target(logits, target, options);
    CrossEntropyOptions ce;
    ce.weight = options.weight;
    ce.ignore_index = options.ignore_index;
    return cross_entropy(logits, kept, ce); // mean over kept pixels; 0 when none is kept
}

// ---- cross-entropy at the label resolution ----

Tensor upsample_logits(const Tensor& logits, int64_t out_h, int64_t out_w) {
    PG_CHECK(logits.defined() && logits.dim() == 4,
             "upsample_logits: logits must be (N, h, w, C), got ",
             logits.defined() ? shape_str(logits.shape()) : std::string("an undefined tensor"));
    if (logits.size(1) == out_h && logits.size(2) == out_w) return logits;
    return resize_bilinear(logits, out_h, out_w, /*align_corners=*/true);
}

Tensor cross_entropy_2d(const Tensor& logits, const Tensor& target,
                        const CrossEntropyOptions& options) {
    check_nhwc_logits("cross_entropy_2d", logits, target);
    return cross_entropy(upsample_logits(logits, target.size(1), target.size(2)), target, options);
}

Tensor labelled_pixel_count(const Tensor& target, int64_t ignore_index) {
    return sum(cast(ne(cast(target, DType::f32), float(ignore_index)), DType::f32));
}

Tensor cross_entropy_over_global_batch(const Tensor& logits, const Tensor& target,
                                       int64_t ignore_index) {
    CrossEntropyOptions ce;
    ce.ignore_index = ignore_index;
    if (!data_parallel_run()) return cross_entropy(logits, target, ce);
    ce.reduction = Reduction::sum;
    return global_batch_mean(cross_entropy(logits, target, ce),
                             labelled_pixel_count(target, ignore_index));
}

// ---- main + aux criterion ----

Tensor seg_loss(const std::vector<Tensor>& logits, const Tensor& target,
                const SegLossConfig& config) {
    PG_CHECK(config.aux_weight >= 0.f, "seg_loss: aux_weight must be >= 0, got ",
             config.aux_weight);
    size_t heads = config.aux_weight > 0.f ? 2 : 1;
    PG_CHECK(logits.size() == heads, "seg_loss: aux_weight ", config.aux_weight, " expects ", heads,
             heads == 2 ? " logits (main, aux)" : " logits tensor (main)", ", got ", logits.size());
    // One head: upsample to the label size, then CE or OHEM CE (each head selects its own pixels).
    auto head_loss = [&](const Tensor& x) {
        check_nhwc_logits("seg_loss", x, target);
        Tensor up = upsample_logits(x, target.size(1), target.size(2));
        if (config.type == SegLossType::ohem) {
            OhemOptions ohem;
            ohem.thresh = config.ohem_thresh;
            ohem.min_kept = config.ohem_min_kept;
            ohem.ignore_index = config.ignore_index;
            return ohem_cross_entropy(up, target, ohem);
        }
        return cross_entropy_over_global_batch(up, target, config.ignore_index);
    };
    Tensor loss = head_loss(logits[0]);
    if (heads == 2) loss = add(loss, mul(head_loss(logits[1]), config.aux_weight));
    return loss;
}

// ---- binary and multi-label ----

Tensor bce_with_constant_target(const Tensor& logits, float value, const Tensor& valid) {
    PG_CHECK(logits.defined(), "bce_with_constant_target: logits is undefined");
    PG_CHECK(!valid.defined() || valid.dtype() == DType::u8,
             "bce_with_constant_target: valid must be u8, got ",
             valid.defined() ? dtype_name(valid.dtype()) : "");
    Tensor mask = valid;
    if (valid.defined() && valid.shape() != logits.shape()) {
        // A (N, H, W) mask for (N, H, W, 1) discriminator logits.
        Shape squeezed = logits.shape();
        bool trailing_one = !squeezed.empty() && squeezed.back() == 1;
        if (trailing_one) squeezed.pop_back();
        PG_CHECK(trailing_one && valid.shape() == squeezed, "bce_with_constant_target: valid ",
                 shape_str(valid.shape()), " matches neither logits ", shape_str(logits.shape()),
                 " nor logits without a trailing 1");
        mask = reshape(valid, logits.shape());
    }
    Tensor target = Tensor::full(logits.shape(), value, DType::f32, logits.device());
    return bce_with_logits(logits, target, mask, Reduction::mean);
}

Tensor multilabel_soft_margin(const Tensor& logits, const Tensor& targets, Reduction reduction) {
    PG_CHECK(logits.defined() && targets.defined(),
             "multilabel_soft_margin: logits or targets is undefined");
    PG_CHECK(logits.dim() == 2, "multilabel_soft_margin: logits must be (N, C), got ",
             shape_str(logits.shape()));
    PG_CHECK(logits.size(1) > 0, "multilabel_soft_margin: logits ", shape_str(logits.shape()),
             " have no class");
    PG_CHECK(targets.dtype() == DType::f32,
             "multilabel_soft_margin: targets must be f32 (cast tags), got ",
             dtype_name(targets.dtype()));
    PG_CHECK(targets.shape() == logits.shape(), "multilabel_soft_margin: targets ",
             shape_str(targets.shape()), " do not match logits ", shape_str(logits.shape()));
    // -[t log sigmoid(x) + (1 - t) log sigmoid(-x)] is exactly BCE with logits, per element.
    Tensor per_class = bce_with_logits(logits, targets, Tensor(), Reduction::none); // (N, C)
    Tensor per_sample = mean(per_class, 1);                                         // (N,)
    switch (reduction) {
    case Reduction::none:
        return per_sample;
    case Reduction::sum:
        return sum(per_sample);
    case Reduction::mean:
        return mean(per_sample);
    }
    PG_FAIL("multilabel_soft_margin: unknown reduction");
}

} // namespace pg::nn
