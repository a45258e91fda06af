// The basic layers (nn/layers.h): each forwards to one engine op; constructors register their
// tensors under PyTorch's names and initialise them as PyTorch does.
#include "nn/layers.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/flops.h"
#include "nn/sync_batch_norm.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {

// ---- initialisers ----

void init_uniform(Tensor& t, float bound, Generator& gen) {
    NoGradGuard no_grad;
    copy_(t, Tensor::uniform(t.shape(), gen, -bound, bound, t.device()));
}

void init_normal(Tensor& t, float std, Generator& gen) {
    NoGradGuard no_grad;
    copy_(t, Tensor::normal(t.shape(), gen, 0.f, std, t.device()));
}

// fan_out = K R S for a (K, R, S, C) weight, as PyTorch computes it from (K, C, R, S):
// size(0) times the receptive field (groups are not divided out).
void init_kaiming_normal_fan_out(Tensor& conv_weight, Generator& gen) {
    PG_CHECK(conv_weight.dim() == 4, "init_kaiming_normal_fan_out: expected a 4-d conv weight");
    int64_t fan_out = conv_weight.size(0) * conv_weight.size(1) * conv_weight.size(2);
    init_normal(conv_weight, std::sqrt(2.f / float(fan_out)), gen);
}

void init_constant(Tensor& t, float value) {
    NoGradGuard no_grad;
    fill_(t, value);
}

// ---- Conv2d, Linear ----

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : Layer("Conv2d"), options_(o) {
    PG_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel_size > 0 && o.groups > 0 &&
                 o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
             "Conv2d: in_channels ", o.in_channels, ", out_channels ", o.out_channels, ", kernel ",
             o.kernel_size, ", groups ", o.groups,
             ": expected positive sizes with channels divisible by groups");
    int64_t c_per_group = o.in_channels / o.groups;
    float bound = 1.f / std::sqrt(float(c_per_group * o.kernel_size * o.kernel_size));
    weight = Tensor::empty({o.out_channels, o.kernel_size, o.kernel_size, c_per_group});
    init_uniform(weight, bound, gen);
    if (o.bias) {
        bias = Tensor::empty({o.out_channels});
        init_uniform(bias, bound, gen);
    }
    register_parameter("weight", &weight, Layout::conv_krsc);
    register_parameter("bias", &bias);
}

Tensor Conv2d::forward(const Tensor& x) {
    const Conv2dOptions& o = options_;
    Tensor y = conv2d(x, weight, bias, o.stride, o.padding, o.dilation, o.groups);
    // Each output value is a dot product of length C/groups R S.
    FlopCounter::add(2 * y.numel() * weight.size(1) * weight.size(2) * weight.size(3));
    return y;
}

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool has_bias)
    : Layer("Linear") {
    PG_CHECK(in_features > 0 && out_features > 0, "Linear: in_features ", in_features,
             " and out_features ", out_features, " must be positive");
    float bound = 1.f / std::sqrt(float(in_features));
    weight = Tensor::empty({out_features, in_features});
    init_uniform(weight, bound, gen);
    if (has_bias) {
        bias = Tensor::empty({out_features});
        init_uniform(bias, bound, gen);
    }
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
}

Tensor Linear::forward(const Tensor& x) {
    Tensor y = linear(x, weight, bias);
    FlopCounter::add(2 * y.numel() * weight.size(1));
    return y;
}

// ---- BatchNorm2d ----

BatchNorm2d::BatchNorm2d(int64_t channels, float eps, float momentum, BatchNormMode mode)
    : Layer("BatchNorm2d"), eps_(eps), momentum_(momentum), mode_(mode) {
    PG_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got ", channels);
    weight = Tensor::ones({channels});
    bias = Tensor::zeros({channels});
    running_mean = Tensor::zeros({channels});
    running_var = Tensor::ones({channels});
    num_batches_tracked = Tensor::zeros({}, DType::i32);
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
    register_buffer("running_mean", &running_mean);
    register_buffer("running_var", &running_var);
    register_buffer("num_batches_tracked", &num_batches_tracked);
    set_mode(mode);
}

void BatchNorm2d::set_mode(BatchNormMode mode) {
    mode_ = mode;
    bool learn = mode == BatchNormMode::trainable;
    weight.set_requires_grad(learn);
    bias.set_requires_grad(learn);
}

Tensor BatchNorm2d::forward(const Tensor& x) { return normalise(x, false); }
Tensor BatchNorm2d::forward_relu(const Tensor& x) { return normalise(x, true); }

Tensor BatchNorm2d::normalise(const Tensor& x, bool relu) {
    bool batch_stats = is_training() && mode_ != BatchNormMode::frozen;
    if (batch_stats) {
        NoGradGuard no_grad;
        fill_(num_batches_tracked, double(++batches_seen_));
    }
    // One process: SyncBatchNorm is BatchNorm (as in PyTorch), and batch_norm's kernels are faster
    // (unless PG_FORCE_DATA_PARALLEL=1 asks for the data-parallel path: tensor/collectives.h).
    if (sync_ && batch_stats && data_parallel_run())
        return sync_batch_norm(x, weight, bias, running_mean, running_var, momentum_, eps_, relu);
    // One value per channel has no variance: say which setting gives this layer more than one.
    PG_CHECK(!batch_stats || x.dim() != 4 || x.numel() != x.size(3), "BatchNorm2d: training on ",
             shape_str(x.shape()),
             " normalises one value per channel (a batch of 1 image at a 1x1 map, as "
             "DeepLabV3+'s image pooling). Train with at least 2 images per process "
             "(dataset.batch_size; fewer processes for a dataset.global_batch_size), or under "
             "mpirun with net.sync_bn: true (statistics over every process's images)");
    if (relu)
        return batch_norm_relu(x, weight, bias, running_mean, running_var, batch_stats, momentum_,
                               eps_);
    return batch_norm(x, weight, bias, running_mean, running_var, batch_stats, momentum_, eps_);
}

void BatchNorm2d::on_loaded() { batches_seen_ = int64_t(num_batches_tracked.item()); }

// ---- activations, pooling, dropout, resize ----

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, slope_); }
Tensor ELU::forward(const Tensor& x) { return elu(x, alpha_); }

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode)
    : Layer("MaxPool2d"), kernel_(kernel), stride_(stride), padding_(padding),
      ceil_mode_(ceil_mode) {}

Tensor MaxPool2d::forward(const Tensor& x) {
    return max_pool2d(x, kernel_, stride_, padding_, ceil_mode_);
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                     bool count_include_pad)
    : Layer("AvgPool2d"), kernel_(kernel), stride_(stride), padding_(padding),
      ceil_mode_(ceil_mode), count_include_pad_(count_include_pad) {}

Tensor AvgPool2d::forward(const Tensor& x) {
    return avg_pool2d(x, kernel_, stride_, padding_, ceil_mode_, count_include_pad_);
}

Tensor GlobalAvgPool::forward(const Tensor& x) { return global_avg_pool(x); }

Dropout::Dropout(float p, bool channels)
    : Layer(channels ? "Dropout2d" : "Dropout"), p_(p), channels_(channels) {
    PG_CHECK(p >= 0.f && p <= 1.f, type_name(), ": p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
    if (!is_training() || p_ == 0.f) return x;
    PG_CHECK(gen_ != nullptr, type_name(), ": training with p = ", p_,
             " needs a generator; call set_generator() on the network first");
    return channels_ ? dropout2d(x, p_, true, *gen_) : dropout(x, p_, true, *gen_);
}

Upsample::Upsample(int64_t height, int64_t width, float scale, bool align_corners)
    : Layer("Upsample"), height_(height), width_(width), scale_(scale),
      align_corners_(align_corners) {}

std::shared_ptr<Upsample> Upsample::to_size(int64_t height, int64_t width, bool align_corners) {
    PG_CHECK(height > 0 && width > 0, "Upsample: size ", height, "x", width, " must be positive");
    return std::shared_ptr<Upsample>(new Upsample(height, width, 0.f, align_corners));
}

std::shared_ptr<Upsample> Upsample::by_scale(float scale, bool align_corners) {
    PG_CHECK(scale > 0.f, "Upsample: scale ", scale, " must be positive");
    return std::shared_ptr<Upsample>(new Upsample(0, 0, scale, align_corners));
}

// With a scale the output is floor(size * scale) and the sampling uses the size ratio
// (PyTorch's interpolate with recompute_scale_factor=True).
Tensor Upsample::forward(const Tensor& x) {
    PG_CHECK(x.dim() == 4, "Upsample: expected (N, H, W, C), got ", x.dim(), " dims");
    int64_t h = height_, w = width_;
    if (scale_ > 0.f) {
        h = int64_t(std::floor(double(x.size(1)) * scale_));
        w = int64_t(std::floor(double(x.size(2)) * scale_));
    }
    return resize_bilinear(x, h, w, align_corners_);
}

// ---- Sequential ----

Sequential::Sequential(const std::vector<std::shared_ptr<Layer>>& layers) : Layer("Sequential") {
    for (const auto& l : layers) add(l);
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
    register_module(std::to_string(layers_.size()), layer);
    layers_.push_back(std::move(layer));
    return *this;
}

// A BatchNorm2d directly followed by a ReLU runs as one fused op (BatchNorm2d::forward_relu):
// the same numbers, without the intermediate activation. Both layers stay in the list, so names,
// indices and the state dict are PyTorch's. (Both classes are final: no subclass's forward can be
// skipped by the fusion.)
Tensor Sequential::forward(const Tensor& x) {
    Tensor h = x;
    for (size_t i = 0; i < layers_.size(); i++) {
        auto* bn = dynamic_cast<BatchNorm2d*>(layers_[i].get());
        if (bn && i + 1 < layers_.size() && dynamic_cast<ReLU*>(layers_[i + 1].get())) {
            h = bn->forward_relu(h);
            i++;
            continue;
        }
        h = layers_[i]->forward(h);
    }
    return h;
}

} // namespace pg::nn
