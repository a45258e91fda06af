// SegmentationNet::forward_flops (nn/seg_net.h): one counted eval forward.
#include "nn/seg_net.h"

#include "nn/flops.h"

namespace pg::nn {

int64_t SegmentationNet::forward_flops(int64_t h, int64_t w) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, 3}, DType::f32, device()));
    });
}

} // namespace pg::nn
