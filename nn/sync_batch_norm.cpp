// SyncBatchNorm (nn/sync_batch_norm.h) on batch_norm's kernels, as torch.nn.SyncBatchNorm: forward
// = this process's statistics, one all-gather of them, the whole batch's statistics combined on the
// host, the normalisation; backward = this process's sums, one all-reduce of them, the gradient.
// Two collectives per layer and step, and about the memory passes of a plain BN.
#include "nn/sync_batch_norm.h"

#include <cmath>

#include "autograd/elementwise.h"
#include "autograd/inplace.h"
#include "autograd/node.h"
#include "autograd/op_util.h"
#include "nn/layers.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {
namespace {

// The whole batch's per-channel mean and biased variance, and its rows M (exact in a double).
struct WholeBatch {
    std::vector<float> mean, var;
    double rows = 0;
};

std::vector<float> host_values(const Tensor& t) { return t.to(Device::cpu()).to_f32_vector(); }

// Every process sends [rows, mean (C), var (C)] of its share; var = 1 / invstd^2 - eps recovers its
// biased variance from the kernel's invstd (var + eps, all the normalisation uses, is what invstd
// holds). Chan's combination: M = sum n_p, mean = sum n_p mean_p / M, and
// var = sum n_p (var_p + (mean_p - mean)^2) / M, which adds the spread of the processes' means
// exactly instead of forming E[x^2] - mean^2.
WholeBatch combine(const Tensor& local_mean, const Tensor& local_invstd, int64_t rows, float eps) {
    const std::vector<float> mean_p = host_values(local_mean), invstd_p = host_values(local_invstd);
    const size_t C = mean_p.size(), n = 1 + 2 * C;
    std::vector<float> mine(n);
    mine[0] = float(rows);
    for (size_t c = 0; c < C; c++) {
        mine[1 + c] = mean_p[c];
        mine[1 + C + c] = float(1.0 / (double(invstd_p[c]) * invstd_p[c]) - double(eps));
    }
    Collectives& collective = collectives();
    const size_t world = size_t(collective.world_size());
    std::vector<float> all(world * n); // (world, 1 + 2C)
    collective.all_gather(mine.data(), int64_t(n), all.data());
    WholeBatch out;
    std::vector<double> sum(C, 0.0), spread(C, 0.0);
    for (size_t p = 0; p < world; p++) {
        const float* s = all.data() + p * n;
        out.rows += s[0];
        for (size_t c = 0; c < C; c++) sum[c] += double(s[0]) * s[1 + c];
    }
    out.mean.resize(C);
    out.var.resize(C);
    for (size_t c = 0; c < C; c++) {
        const double mean = sum[c] / out.rows;
        for (size_t p = 0; p < world; p++) {
            const float* s = all.data() + p * n;
            const double d = double(s[1 + c]) - mean;
            spread[c] += double(s[0]) * (double(s[1 + C + c]) + d * d);
        }
        out.mean[c] = float(mean);
        out.var[c] = float(std::max(0.0, spread[c] / out.rows));
    }
    return out;
}

Tensor channel_tensor(const std::vector<float>& values, const Device& device) {
    return Tensor::from_vector(values, {int64_t(values.size())}).to(device);
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
    const double M = whole.rows;
    PG_CHECK(M > 1, "sync_batch_norm: ", M,
             " values per channel over all processes; batch statistics need more than 1");
    Tensor mean = channel_tensor(whole.mean, x.device()),
           var = channel_tensor(whole.var, x.device());
    // y = (x - mean) / sqrt(var + eps) * weight + bias (then ReLU): the eval kernel with the whole
    // batch's statistics in place of the running ones.
    backend.batch_norm_forward_eval(y.f32(), x.f32(), weight.f32(), bias.f32(), mean.f32(),
                                    var.f32(), rows, C, eps, relu);
    {
        NoGradGuard no_grad; // PyTorch: running = (1 - momentum) running + momentum batch
        copy_(running_mean, add(mul(running_mean, 1.f - momentum), mul(mean, momentum)));
        Tensor unbiased = mul(var, float(M / (M - 1)));
        copy_(running_var, add(mul(running_var, 1.f - momentum), mul(unbiased, momentum)));
    }
    if (!any_requires_grad({x, weight, bias})) return y;
    Tensor invstd;
    {
        NoGradGuard no_grad;
        invstd = rdiv(1.f, sqrt(add(var, eps)));
    }
    SavedTensor saved_x(x), saved_w(weight), saved_mean(mean), saved_invstd(invstd);
    SavedTensor saved_y = relu ? SavedTensor(y) : SavedTensor(); // ReLU's mask
    record(relu ? "sync_batch_norm_relu" : "sync_batch_norm", {x, weight, bias}, {y},
           [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
               return sync_batch_norm_backward(
                   g[0], saved_x.get(), saved_w.get(), saved_mean.get(), saved_invstd.get(),
                   saved_y.defined() ? saved_y.get() : Tensor(), M, needs);
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
                                             double rows_everywhere,
                                             const std::vector<bool>& needs) {
    const int64_t C = x.size(3), rows = x.numel() / C;
    Backend& backend = backend_of(dy);
    Tensor dx = needs[0] ? empty_like(dy, dy.shape()) : Tensor();
    Tensor dw = empty_like(dy, {C}), db = empty_like(dy, {C}); // the correction needs both
    backend.batch_norm_backward(dx.defined() ? dx.f32() : nullptr, dw.f32(), db.f32(), dy.f32(),
                                x.f32(), weight.f32(), mean.f32(), invstd.f32(), rows, C, false,
                                relu_y.defined() ? relu_y.f32() : nullptr);
    if (needs[0]) {
        std::vector<float> sums = host_values(db), sum_dw = host_values(dw); // (C,) each
        sums.insert(sums.end(), sum_dw.begin(), sum_dw.end());
        collectives().all_reduce_sum(sums.data(), int64_t(sums.size()));
        const std::vector<float> w = host_values(weight), is = host_values(invstd);
        const size_t n = static_cast<size_t>(C);
        std::vector<float> k(n), d(n), ones(n, 1.f);
        for (size_t c = 0; c < n; c++) {
            const double mean_dy = sums[c] / rows_everywhere;
            const double mean_dy_xhat = sums[n + c] / rows_everywhere;
            k[c] = float(-double(w[c]) * is[c] * is[c] * mean_dy_xhat);
            d[c] = float(-double(w[c]) * is[c] * mean_dy);
        }
        // (x - mean) k + d: the eval kernel with weight k, bias d, variance 1 and eps 0.
        Tensor correction = empty_like(dy, dy.shape());
        Tensor kt = channel_tensor(k, dy.device()), dt = channel_tensor(d, dy.device()),
               unit = channel_tensor(ones, dy.device());
        backend.batch_norm_forward_eval(correction.f32(), x.f32(), kt.f32(), dt.f32(), mean.f32(),
                                        unit.f32(), rows, C, 0.f, false);
        dx = add(dx, correction);
    }
    return {dx, needs[1] ? dw : Tensor(), needs[2] ? db : Tensor()};
}

void convert_sync_batch_norm(Module& module, bool on) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&module)) bn->set_sync(on);
    for (const auto& child : module.children()) convert_sync_batch_norm(*child.second, on);
}

} // namespace pg::nn
