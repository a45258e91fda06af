// SegmentationNet::forward_flops (nn/seg_net.h): one counted eval forward.
#include "nn/seg_net.h"

#include "autograd/node.h"
#include "nn/flops.h"

namespace pg::nn {

int64_t SegmentationNet::forward_flops(int64_t h, int64_t w) {
    NoGradGuard no_grad;
    const bool was_training = is_training();
    eval();
    FlopCounter counter;
    forward(Tensor::zeros({1, h, w, 3}, DType::f32, device()));
    train(was_training);
    return counter.total();
}

} // namespace pg::nn
