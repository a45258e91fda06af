// The CAM classifier head (nn/cam.h): logits from pooled features, class activation maps from the
// same 1x1 weights applied at every pixel, and the multi-label BCE on tags.
#include "nn/cam.h"

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

namespace {

void check_features(const char* op, const Tensor& features, int64_t channels) {
    PG_CHECK(features.defined() && features.dim() == 4 && features.size(3) == channels, op,
             ": features must be (N, H, W, ", channels, "), got ",
             features.defined() ? shape_str(features.shape()) : std::string("undefined"));
}

// tags (N, K) f32 or u8 -> f32 0/1 of the same shape (f32: > 0.5 is present; u8: non-zero).
Tensor tag_mask(const char* op, const Tensor& tags, int64_t n, int64_t k) {
    PG_CHECK(tags.defined() && tags.dim() == 2 && tags.size(0) == n && tags.size(1) == k, op,
             ": tags must be (N = ", n, ", K = ", k, "), got ",
             tags.defined() ? shape_str(tags.shape()) : std::string("undefined"));
    PG_CHECK(tags.dtype() == DType::f32 || tags.dtype() == DType::u8, op,
             ": tags must be f32 or u8, got ", dtype_name(tags.dtype()));
    Tensor values = tags.dtype() == DType::u8 ? cast(tags, DType::f32) : tags; // u8 1..255 > 0.5
    return cast(gt(values, 0.5f), DType::f32);
}

} // namespace

CamHead::CamHead(int64_t feature_channels, int64_t num_classes, Generator& gen)
    : Module("CamHead"), feature_channels_(feature_channels), num_classes_(num_classes) {
    PG_CHECK(feature_channels > 0 && num_classes > 0, "CamHead: feature_channels ",
             feature_channels, " and num_classes ", num_classes, " must be positive");
    Conv2dOptions o{feature_channels, num_classes, /*kernel_size=*/1};
    o.bias = false;
    classifier = register_module("classifier", std::make_shared<Conv2d>(o, gen));
}

Tensor CamHead::forward(const Tensor& features) {
    check_features("CamHead", features, feature_channels_);
    Tensor pooled = global_avg_pool(features);                // (N, 1, 1, C_f)
    Tensor logits = classifier->forward(pooled);              // (N, 1, 1, K)
    return reshape(logits, {features.size(0), num_classes_}); // (N, K)
}

Tensor CamHead::cams(const Tensor& features, const Tensor& tags, int64_t out_h, int64_t out_w,
                     bool align_corners) const {
    check_features("CamHead::cams", features, feature_channels_);
    PG_CHECK(out_h > 0 && out_w > 0, "CamHead::cams: output size ", out_h, "x", out_w,
             " must be positive");
    const int64_t N = features.size(0), K = num_classes_;
    Tensor present = reshape(tag_mask("CamHead::cams", tags, N, K), {N, 1, 1, K});
    // The classifier at every pixel (the same weights that score the pooled vector).
    Tensor maps = relu(conv2d(features, classifier->weight));               // (N, H, W, K)
    maps = resize_bilinear(maps, out_h, out_w, align_corners);              // (N, out_h, out_w, K)
    Tensor peak = max(max(maps, 1, /*keepdim=*/true), 2, /*keepdim=*/true); // (N, 1, 1, K)
    maps = maps / (peak + 1e-5f); // the guard keeps an all-zero map at 0 instead of NaN
    return maps * present;
}

int64_t CamHead::forward_flops(int64_t h, int64_t w) {
    PG_CHECK(h > 0 && w > 0, "CamHead::forward_flops: size ", h, "x", w, " must be positive");
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, feature_channels_}, DType::f32, device()));
    });
}

Tensor multilabel_bce_loss(const Tensor& logits, const Tensor& tags) {
    PG_CHECK(logits.defined() && logits.dim() == 2,
             "multilabel_bce_loss: logits must be (N, K), got ",
             logits.defined() ? shape_str(logits.shape()) : std::string("undefined"));
    PG_CHECK(tags.defined() && tags.shape() == logits.shape(), "multilabel_bce_loss: tags ",
             tags.defined() ? shape_str(tags.shape()) : std::string("undefined"),
             " must have the logits' shape ", shape_str(logits.shape()));
    Tensor target = tags.dtype() == DType::f32 ? tags : cast(tags, DType::f32);
    return bce_with_logits(logits, target);
}

} // namespace pg::nn
