// SyncBatchNorm's forward, composed of differentiable ops (nn/sync_batch_norm.h); its backward is
// theirs, the two all-reduces' included.
#include "nn/sync_batch_norm.h"

#include "autograd/collective.h"
#include "autograd/elementwise.h"
#include "autograd/inplace.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/reduce.h"
#include "nn/layers.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, float momentum,
                       float eps, bool relu) {
    PG_CHECK(x.dim() == 4, "sync_batch_norm: input ", shape_str(x.shape()),
             "; expected (N, H, W, C)");
    const int64_t C = x.size(3), rows = x.numel() / C;
    PG_CHECK(weight.numel() == C && bias.numel() == C && running_mean.numel() == C &&
                 running_var.numel() == C,
             "sync_batch_norm: ", C, " channels, but weight / bias / running statistics have ",
             weight.numel(), " / ", bias.numel(), " / ", running_mean.numel(), " / ",
             running_var.numel());
    double rows_everywhere = double(rows); // M, exact in a double
    collectives().all_reduce_sum(&rows_everywhere, 1);
    const float total = float(rows_everywhere);
    PG_CHECK(total > 1, "sync_batch_norm: ", total,
             " values per channel over all processes; "
             "batch statistics need more than 1");
    Tensor x2 = reshape(x, {rows, C});
    Tensor mean = div(all_reduce_sum(sum(x2, 0)), total);                   // (C)
    Tensor centred = sub(x2, mean);                                         // (rows, C)
    Tensor var = div(all_reduce_sum(sum(mul(centred, centred), 0)), total); // (C), biased
    Tensor scale = div(weight, sqrt(add(var, eps))); // weight / sqrt(var + eps)
    Tensor y = add(mul(centred, scale), bias);
    if (relu) y = pg::relu(y);
    {
        NoGradGuard no_grad; // PyTorch: running = (1 - momentum) running + momentum batch
        copy_(running_mean, add(mul(running_mean, 1.f - momentum), mul(mean.detach(), momentum)));
        Tensor unbiased = mul(var.detach(), total / (total - 1.f));
        copy_(running_var, add(mul(running_var, 1.f - momentum), mul(unbiased, momentum)));
    }
    return reshape(y, x.shape());
}

void convert_sync_batch_norm(Module& module, bool on) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&module)) bn->set_sync(on);
    for (const auto& child : module.children()) convert_sync_batch_norm(*child.second, on);
}

} // namespace pg::nn
