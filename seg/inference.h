// Evaluation-time inference: logits at the image's full resolution from a whole-image forward,
// AdvSemiSeg's padded forward (the image padded bottom/right with zeros, i.e. the mean, to a fixed
// size, one forward, the logits cropped back), or U2PL's sliding window (crop x crop windows every `stride` pixels, the last window pushed
// back inside the image, each window's logits upsampled to the window (bilinear, align_corners =
// true) and averaged where windows overlap), optionally averaged with the flipped image.
#pragma once

#include <string>

#include "nn/seg_net.h"
#include "seg/data_config.h"

namespace pg::seg {

// image (N, H, W, 3) -> logits (N, H, W, C); runs under NoGradGuard; the net should be in eval().
Tensor predict_whole(nn::SegmentationNet& net, const Tensor& image, bool flip = false);
// An image smaller than the crop along an axis is covered by one window of the image's size there.
Tensor predict_sliding(nn::SegmentationNet& net, const Tensor& image, int64_t crop, int64_t stride,
                       bool flip = false);
// AdvSemiSeg's VOC protocol: pad to at least size x size (bottom/right, value 0 in normalised
// space), forward, upsample the logits to the padded size, crop back to H x W.
Tensor predict_padded(nn::SegmentationNet& net, const Tensor& image, int64_t size,
                      bool flip = false);
// The prediction `options` asks for: whole (and center_crop, already cropped), pad or sliding.
Tensor predict_logits(nn::SegmentationNet& net, const Tensor& image, const EvalOptions& options);
// argmax over the classes: (N, H, W, C) -> (N, H, W) i32.
Tensor predict_labels(const Tensor& logits);
// NaN / Inf logits (weights loaded with --allow-nonfinite, a NaN image) would still argmax to
// some class and give a plausible-looking score or picture: an error naming `what` instead.
void check_finite_logits(const Tensor& logits, const std::string& what);

} // namespace pg::seg
