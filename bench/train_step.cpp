// TrainStep (bench/train_step.h): building the network from a benchmark configuration, the fixed
// batch, and the step itself, written as a training loop writes it.
#include "bench/train_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "autograd/engine.h"
#include "nn/losses.h"
#include "tensor/error.h"
#include "tensor/profiler.h"

namespace pg::bench {
namespace {

constexpr int64_t kClasses = 21, kDemoClasses = 3, kIgnore = 255;

// A width of the real network scaled like nn/resnet.h scales its widths.
int64_t scaled(int64_t channels, float width) {
    return std::max<int64_t>(1, int64_t(std::lround(double(channels) * width)));
}

} // namespace

int64_t train_step_classes(const TrainStepConfig& c) {
    return c.synth_demo ? kDemoClasses : kClasses;
}

// configs/synth/supervised_base.yaml's net section.
static nn::SegmenterOptions synth_demo_segmenter() {
    nn::SegmenterOptions o;
    o.arch = nn::SegArch::deeplabv3plus;
    o.v3plus.encoder = nn::resnet_options(nn::ResNetVariant::C, 50);
    o.v3plus.encoder.blocks = {1, 1, 2, 1};
    o.v3plus.encoder.width = 0.125f;
    nn::DeepLabV3PlusOptions& d = o.v3plus.decoder;
    d.num_classes = kDemoClasses;
    d.low_planes = 48, d.inner_planes = 32, d.head_planes = 64;
    d.dilations = {2, 4, 6};
    d.use_rep = false;
    o.v3plus.aux = false;
    return o;
}

nn::SegmenterOptions train_step_segmenter(const TrainStepConfig& c) {
    if (c.synth_demo) return synth_demo_segmenter();
    PG_CHECK(c.depth == 50 || c.depth == 101, "train_step: depth must be 50 or 101, got ", c.depth);
    nn::SegmenterOptions o;
    o.arch = c.arch;
    if (c.arch == nn::SegArch::deeplabv2) {
        o.v2.num_classes = kClasses;
        o.v2.backbone = nn::resnet_options(nn::ResNetVariant::A, c.depth); // frozen BN
        o.v2.backbone.width = c.width;
        return o;
    }
    o.v3plus.encoder = nn::resnet_options(nn::ResNetVariant::C, c.depth); // trainable BN
    o.v3plus.encoder.width = c.width;
    nn::DeepLabV3PlusOptions& d = o.v3plus.decoder;
    d.num_classes = kClasses;
    d.use_rep = false; // a supervised CE step: nothing would read the representation
    d.low_planes = scaled(d.low_planes, c.width);
    d.inner_planes = scaled(d.inner_planes, c.width);
    d.head_planes = scaled(d.head_planes, c.width);
    o.v3plus.aux = false;
    return o;
}

Tensor random_targets(int64_t n, int64_t h, int64_t w, Generator& gen, Device device,
                      int64_t classes) {
    std::vector<float> u = Tensor::uniform({n * h * w}, gen).to_f32_vector();
    std::vector<int32_t> t(u.size());
    for (size_t i = 0; i < t.size(); i++) {
        const int32_t c = int32_t((u[i] - 0.05f) / 0.95f * float(classes));
        t[i] = u[i] < 0.05f ? int32_t(kIgnore) : std::min(c, int32_t(classes - 1));
    }
    return Tensor::from_vector(t, {n, h, w}, device);
}

TrainStep::TrainStep(const TrainStepConfig& config, Device device) : gen_(1) {
    net_ = nn::build_segmenter(train_step_segmenter(config), gen_);
    net_->to(device); // before the optimizer: it keeps the parameter tensors
    net_->set_generator(&gen_);
    flops_per_step_ =
        3.0 * double(net_->forward_flops(config.crop, config.crop)) * double(config.batch);
    net_->train();

    nn::SGDOptions sgd;
    sgd.lr = 1e-3;
    sgd.momentum = 0.9;
    sgd.weight_decay = 1e-4;
    std::vector<nn::ParamGroup> groups(2);
    groups[0].params = net_->backbone_parameters(); // lr x1
    groups[1].params = net_->head_parameters();
    groups[1].lr_mult = 10.0;
    optimizer_ = std::make_unique<nn::SGD>(std::move(groups), sgd);

    image_ = Tensor::uniform({config.batch, config.crop, config.crop, 3}, gen_, -1.f, 1.f, device);
    target_ = random_targets(config.batch, config.crop, config.crop, gen_, device,
                             train_step_classes(config));
}

void TrainStep::run() {
    optimizer_->zero_grad();
    nn::SegOutput out = net_->forward(image_); // logits (N, crop / stride, crop / stride, 21)
    Tensor loss = nn::cross_entropy_2d(out.logits, target_); // bilinear to the crop, then CE
    backward(loss);
    optimizer_->step();
}

void time_cpu_steps(benchmark::State& state, const std::string& name, int64_t batch,
                    double flops_per_step, const std::function<void()>& step) {
    for (int i = 0; i < kCpuWarmupSteps; i++) step();
    const char* profile_env = std::getenv("PG_PROFILE");
    const bool profile = profile_env && std::string(profile_env) != "0";
    profiler::reset();
    profiler::enable(profile);
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) step();
    const std::chrono::duration<double, std::milli> wall = std::chrono::steady_clock::now() - start;
    profiler::enable(false);
    if (profile)
        std::cerr << name << ", " << state.iterations() << " steps:\n"
                  << profiler::format_table(profiler::snapshot(), 30, wall.count()) << "\n";
    using benchmark::Counter;
    state.counters["steps/s"] = Counter(1.0, Counter::kIsIterationInvariantRate);
    state.counters["images/s"] = Counter(double(batch), Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = Counter(flops_per_step * 1e-9, Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/step"] = flops_per_step * 1e-9;
}

} // namespace pg::bench
