// The layers networks are built from, each a thin Module around an engine op, with PyTorch's
// parameter names and default initialisation. Inputs are NHWC. Constructors that create weights
// take the generator explicitly, so a network's initial weights follow from one seed.
#pragma once

#include <memory>
#include <vector>

#include "nn/module.h"

namespace pg::nn {

struct Conv2dOptions {
    int64_t in_channels, out_channels, kernel_size;
    int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
    bool bias = true;
};

// weight (K, R, S, C/groups) stored, (K, C/groups, R, S) in PyTorch; bias (K,).
// Init (PyTorch's default): weight and bias uniform in +-1/sqrt(fan_in), fan_in = C/groups R S
// (kaiming_uniform with a = sqrt(5) reduces to exactly that bound).
class Conv2d : public Layer {
  public:
    Conv2d(const Conv2dOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override; // (N, H, W, C) -> (N, P, Q, K)
    const Conv2dOptions& options() const { return options_; }
    Tensor weight, bias;

  private:
    Conv2dOptions options_;
};

// (N, in) or (..., in) -> (..., out); weight (out, in) as in PyTorch. Same default init as Conv2d.
class Linear : public Layer {
  public:
    Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
    Tensor forward(const Tensor& x) override;
    Tensor weight, bias;
};

// How a BatchNorm2d behaves in training mode.
enum class BatchNormMode {
    trainable,     // batch statistics, running-stat update, learned affine (PyTorch's default)
    frozen_affine, // batch statistics and running-stat update, affine fixed (AdvSemiSeg's DeepLab-v2)
    frozen,        // running statistics always, affine fixed (torchvision's FrozenBatchNorm2d)
};

// Per-channel normalisation of (N, H, W, C) (or (N, C)). weight 1, bias 0, running_mean 0,
// running_var 1, num_batches_tracked 0 (counted in training; momentum is fixed so it is only
// kept for PyTorch compatibility). Eval mode always uses the running statistics.
class BatchNorm2d final : public Layer {
  public:
    explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f,
                         BatchNormMode mode = BatchNormMode::trainable);
    Tensor forward(const Tensor& x) override;
    // relu(forward(x)) as one fused op (autograd/batch_norm.h's batch_norm_relu): the same
    // numbers, one activation and two memory passes fewer each way.
    Tensor forward_relu(const Tensor& x);
    void set_mode(BatchNormMode mode); // frozen modes switch off requires_grad of weight and bias
    BatchNormMode mode() const { return mode_; }
    // SyncBatchNorm (nn/sync_batch_norm.h): batch statistics over every process of the run.
    void set_sync(bool on) { sync_ = on; }
    bool sync() const { return sync_; }
    Tensor weight, bias, running_mean, running_var, num_batches_tracked;

  protected:
    void on_loaded() override;

  private:
    Tensor normalise(const Tensor& x, bool relu);
    float eps_, momentum_;
    BatchNormMode mode_;
    bool sync_ = false;
    int64_t batches_seen_ = 0; // host mirror of num_batches_tracked
};

class ReLU final : public Layer {
  public:
    ReLU() : Layer("ReLU") {}
    Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Layer {
  public:
    explicit LeakyReLU(float negative_slope = 0.01f) : Layer("LeakyReLU"), slope_(negative_slope) {}
    Tensor forward(const Tensor& x) override;

  private:
    float slope_;
};

class ELU : public Layer {
  public:
    explicit ELU(float alpha = 1.f) : Layer("ELU"), alpha_(alpha) {}
    Tensor forward(const Tensor& x) override;

  private:
    float alpha_;
};

class MaxPool2d : public Layer {
  public:
    MaxPool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false);
    Tensor forward(const Tensor& x) override;

  private:
    int64_t kernel_, stride_, padding_;
    bool ceil_mode_;
};

class AvgPool2d : public Layer {
  public:
    AvgPool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false,
              bool count_include_pad = true);
    Tensor forward(const Tensor& x) override;

  private:
    int64_t kernel_, stride_, padding_;
    bool ceil_mode_, count_include_pad_;
};

// (N, H, W, C) -> (N, 1, 1, C) (PyTorch's AdaptiveAvgPool2d(1)).
class GlobalAvgPool : public Layer {
  public:
    GlobalAvgPool() : Layer("GlobalAvgPool") {}
    Tensor forward(const Tensor& x) override;
};

// Element dropout (Dropout) or whole-channel dropout (Dropout2d). Identity in eval mode; in
// training the mask is drawn from the generator set with Module::set_generator.
class Dropout : public Layer {
  public:
    explicit Dropout(float p = 0.5f, bool channels = false);
    Tensor forward(const Tensor& x) override;

  protected:
    void on_generator(Generator* gen) override { gen_ = gen; }

  private:
    float p_;
    bool channels_;
    Generator* gen_ = nullptr;
};

class Dropout2d : public Dropout {
  public:
    explicit Dropout2d(float p = 0.5f) : Dropout(p, true) {}
};

// Bilinear resize to a fixed size or by a scale factor (PyTorch's Upsample / F.interpolate).
class Upsample : public Layer {
  public:
    static std::shared_ptr<Upsample> to_size(int64_t height, int64_t width, bool align_corners);
    static std::shared_ptr<Upsample> by_scale(float scale, bool align_corners);
    Tensor forward(const Tensor& x) override;

  private:
    Upsample(int64_t height, int64_t width, float scale, bool align_corners);
    int64_t height_, width_;
    float scale_;
    bool align_corners_;
};

class Identity : public Layer {
  public:
    Identity() : Layer("Identity") {}
    Tensor forward(const Tensor& x) override { return x; }
};

// Children named "0", "1", ... in the order added (PyTorch's nn.Sequential), so a parameter-free
// layer (ReLU) still takes an index: conv1.0, conv1.1, (ReLU at 2), conv1.3.
class Sequential : public Layer {
  public:
    Sequential() : Layer("Sequential") {}
    explicit Sequential(const std::vector<std::shared_ptr<Layer>>& layers);
    Sequential& add(std::shared_ptr<Layer> layer);
    Tensor forward(const Tensor& x) override;
    size_t size() const { return layers_.size(); }
    const std::shared_ptr<Layer>& operator[](size_t i) const { return layers_.at(i); }

  private:
    std::vector<std::shared_ptr<Layer>> layers_;
};

// Weight initialisers used by the networks (in place, no grad).
void init_uniform(Tensor& t, float bound, Generator& gen);             // U(-bound, bound)
void init_normal(Tensor& t, float std, Generator& gen);                // N(0, std^2)
void init_kaiming_normal_fan_out(Tensor& conv_weight, Generator& gen); // std = sqrt(2 / fan_out)
void init_constant(Tensor& t, float value);

} // namespace pg::nn
