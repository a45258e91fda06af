// SyncBatchNorm (nn/sync_batch_norm.h) on batch_norm's kernels, as torch.nn.SyncBatchNorm: forward
// = this process's statistics, one all-gather of them, the whole batch's statistics combined, the
// normalisation; backward = this process's sums, one all-reduce of them, the gradient. Everything
// stays on x's device (tensor ops, NCCL's collectives on a GPU): no copy to the host, no wait.
// Two collectives per layer and step, and about the memory passes of a plain BN.
#include "nn/sync_batch_norm.h"

#include <cmath>
#include <limits>

#include "autograd/elementwise.h"
#include "autograd/inplace.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/op_util.h"
#include "autograd/reduce.h"
#include "nn/layers.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {
namespace {

// The whole batch's per-channel mean and biased variance (C,), and its rows M (shape ()), on the
// device of the statistics.
struct WholeBatch {
    Tensor mean, var, rows;
};

// Every process sends [rows, mean (C), var (C)] of its share; var = 1 / invstd^2 - eps recovers its
// biased variance from the kernel's invstd (var + eps, all the normalisation uses, is what invstd
// holds). Chan's combination: M = sum n_p, mean = sum n_p mean_p / M, and
// var = sum n_p (var_p + (mean_p - mean)^2) / M, which adds the spread of the processes' means
// exactly instead of forming E[x^2] - mean^2 (in f32: a process's count below 2^24 is exact, M
// within 6e-8).
WholeBatch combine(const Tensor& local_mean, const Tensor& local_invstd, int64_t rows, float eps) {
    NoGradGuard no_grad;
    const int64_t C = local_mean.numel();
    Tensor count = Tensor::full({1}, double(rows), DType::f32, local_mean.device());
    Tensor local_var = sub(rdiv(1.f, mul(local_invstd, local_invstd)), eps);
    CollectivePurpose purpose("SyncBN's batch statistics");
    Tensor all = all_gather(concat({count, local_mean, local_var}, 0)); // (world, 1 + 2C)
    std::vector<Tensor> parts = split(all, {1, C, C}, 1);
    const Tensor &n = parts[0], &means = parts[1], &vars = parts[2]; // (world, 1), (world, C) x2
    WholeBatch out;
    out.rows = sum(n);
    out.mean = div(sum(mul(n, means), 0), out.rows);
    Tensor spread = sub(means, out.mean);
    out.var = div(sum(mul(n, add(vars, mul(spread, spread))), 0), out.rows);
    out.var = clamp(out.var, 0.f, std::numeric_limits<float>::infinity());
    return out;
}

} // namespace

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
    PG_CHECK(rows < (int64_t(1) << 24), "sync_batch_norm: ", rows,
             " values per channel in one process; at most 2^24 (counts travel as floats)");
    Backend& backend = backend_of(x);
    Tensor y = empty_like(x, x.shape());
    // This process's statistics (the kernel's normalised output is overwritten below).
    Tensor local_mean = empty_like(x, {C}), local_invstd = empty_like(x, {C});
    if (rows > 0)
        backend.batch_norm_forward_train(y.f32(), local_mean.f32(), local_invstd.f32(), nullptr,
                                         nullptr, x.f32(), nullptr, nullptr, rows, C, 0.f, eps,
                                         false);
    else
        fill_(local_mean, 0.f), fill_(local_invstd, 1.f / std::sqrt(eps));
    const WholeBatch whole = combine(local_mean, local_invstd, rows, eps);
    if (rows < 2) { // M > 1 holds whenever this process has 2 rows; else read it (on a GPU, a wait)
        const float M = whole.rows.item();
        PG_CHECK(M > 1.f, "sync_batch_norm: ", M,
                 " values per channel over all processes; batch statistics need more than 1");
    }
    const Tensor &mean = whole.mean, &var = whole.var;
    // y = (x - mean) / sqrt(var + eps) * weight + bias (then ReLU): the eval kernel with the whole
    // batch's statistics in place of the running ones.
    backend.batch_norm_forward_eval(y.f32(), x.f32(), weight.f32(), bias.f32(), mean.f32(),
                                    var.f32(), rows, C, eps, relu);
    {
        NoGradGuard no_grad; // PyTorch: running = (1 - momentum) running + momentum batch
        copy_(running_mean, add(mul(running_mean, 1.f - momentum), mul(mean, momentum)));
        Tensor unbiased = mul(var, div(whole.rows, sub(whole.rows, 1.f))); // var M / (M - 1)
        copy_(running_var, add(mul(running_var, 1.f - momentum), mul(unbiased, momentum)));
    }
    if (!any_requires_grad({x, weight, bias})) return y;
    Tensor invstd;
    {
        NoGradGuard no_grad;
        invstd = rdiv(1.f, sqrt(add(var, eps)));
    }
    SavedTensor saved_x(x), saved_w(weight), saved_mean(mean), saved_invstd(invstd),
        saved_rows(whole.rows);
    SavedTensor saved_y = relu ? SavedTensor(y) : SavedTensor(); // ReLU's mask
    record(relu ? "sync_batch_norm_relu" : "sync_batch_norm", {x, weight, bias}, {y},
           [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
               return sync_batch_norm_backward(
                   g[0], saved_x.get(), saved_w.get(), saved_mean.get(), saved_invstd.get(),
                   saved_y.defined() ? saved_y.get() : Tensor(), saved_rows.get(), needs);
           });
    return y;
}

// With xhat = (x - mean) invstd over the whole batch and y = w xhat + b:
//   dbias = sum dy, dweight = sum dy xhat over this process's rows (DDP then averages them, as
//   torch's SyncBatchNorm leaves them), and
//   dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)) with the means over every process's rows:
//   the eval backward's w invstd dy, plus (x - mean) k + d with k = -w invstd^2 mean(dy xhat) and
//   d = -w invstd mean(dy), after one all-reduce of the two sums. relu_y: dy counts where y > 0.
std::vector<Tensor> sync_batch_norm_backward(const Tensor& dy, const Tensor& x,
                                             const Tensor& weight, const Tensor& mean,
                                             const Tensor& invstd, const Tensor& relu_y,
                                             const Tensor& rows_everywhere,
                                             const std::vector<bool>& needs) {
    const int64_t C = x.size(3), rows = x.numel() / C;
    Backend& backend = backend_of(dy);
    Tensor dx = needs[0] ? empty_like(dy, dy.shape()) : Tensor();
    Tensor dw = empty_like(dy, {C}), db = empty_like(dy, {C}); // the correction needs both
    backend.batch_norm_backward(dx.defined() ? dx.f32() : nullptr, dw.f32(), db.f32(), dy.f32(),
                                x.f32(), weight.f32(), mean.f32(), invstd.f32(), rows, C, false,
                                relu_y.defined() ? relu_y.f32() : nullptr);
    if (needs[0]) {
        NoGradGuard no_grad;
        Tensor sums = concat({db, dw}, 0); // (2C,): sum dy, sum dy xhat
        CollectivePurpose purpose("SyncBN's gradient sums");
        all_reduce_sum_(sums);
        std::vector<Tensor> s = split(div(sums, rows_everywhere), {C, C}, 0);
        const Tensor &mean_dy = s[0], &mean_dy_xhat = s[1];
        Tensor w_invstd = mul(weight, invstd);
        Tensor k = neg(mul(mul(w_invstd, invstd), mean_dy_xhat)), d = neg(mul(w_invstd, mean_dy));
        // (x - mean) k + d: the eval kernel with weight k, bias d, variance 1 and eps 0.
        Tensor correction = empty_like(dy, dy.shape());
        Tensor unit = Tensor::ones({C}, DType::f32, dy.device());
        backend.batch_norm_forward_eval(correction.f32(), x.f32(), k.f32(), d.f32(), mean.f32(),
                                        unit.f32(), rows, C, 0.f, false);
        add_(dx, correction);
    }
    return {dx, needs[1] ? dw : Tensor(), needs[2] ? db : Tensor()};
}

void convert_sync_batch_norm(Module& module, bool on) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&module)) bn->set_sync(on);
    for (const auto& child : module.children()) convert_sync_batch_norm(*child.second, on);
}

} // namespace pg::nn
