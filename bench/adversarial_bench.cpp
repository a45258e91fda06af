// AdvSemiSeg's whole iteration on the CPU (seg/train/adversarial_step.h): DeepLab-v2 ResNet-101
// (frozen BN) as G and the FC discriminator (ndf 64) as D, 2 labeled + 2 unlabeled + 2
// ground-truth maps at 129 x 129, past semi_start (all three terms on, T_semi 0 so the semi mask
// is never empty): three backward passes, SGD on G (2.5e-4, heads x10), Adam on D.
// tools/bench_torch_train_step.py times the same iteration in PyTorch (config adv_v2_r101).
//   pg_bench --benchmark_filter=^TrainStep/adv_   (PG_PROFILE=1: the per-kernel table too)
#include <benchmark/benchmark.h>

#include "bench/train_step.h"
#include "nn/discriminator.h"
#include "seg/train/adversarial_step.h"

namespace pg {
namespace {

using seg::adversarial::StepBatches;
using seg::adversarial::StepConstants;

constexpr int64_t kBatch = 2, kCrop = 129, kClasses = 21;

struct AdversarialStep {
    Generator gen{1};
    std::shared_ptr<nn::SegmentationNet> g;
    std::unique_ptr<nn::FCDiscriminator> d;
    std::unique_ptr<nn::SGD> g_optimizer;
    std::unique_ptr<nn::Adam> d_optimizer;
    StepBatches batches;
    StepConstants constants;
    double flops_per_step = 0;

    AdversarialStep() {
        g = nn::build_segmenter(
            bench::train_step_segmenter({"adv", nn::SegArch::deeplabv2, 101, 1.f, kBatch, kCrop}),
            gen);
        g->set_generator(&gen);
        g->train();
        d = std::make_unique<nn::FCDiscriminator>(nn::FCDiscriminatorOptions{kClasses, 64}, gen);
        nn::SGDOptions sgd;
        sgd.lr = 2.5e-4, sgd.momentum = 0.9, sgd.weight_decay = 5e-4;
        g_optimizer = std::make_unique<nn::SGD>(
            std::vector<nn::ParamGroup>{{g->backbone_parameters(), 1.0, -1.0},
                                        {g->head_parameters(), 10.0, -1.0}},
            sgd);
        nn::AdamOptions adam;
        adam.lr = 1e-4, adam.beta2 = 0.99;
        d_optimizer = std::make_unique<nn::Adam>(
            std::vector<nn::ParamGroup>{{d->parameters(), 1.0, -1.0}}, adam);
        batches.labeled_images = Tensor::uniform({kBatch, kCrop, kCrop, 3}, gen, -1.f, 1.f);
        batches.labels = bench::random_targets(kBatch, kCrop, kCrop, gen, Device::cpu());
        batches.unlabeled_images = Tensor::uniform({kBatch, kCrop, kCrop, 3}, gen, -1.f, 1.f);
        batches.semi = true;
        batches.ground_truth = bench::random_targets(kBatch, kCrop, kCrop, gen, Device::cpu());
        constants.mask_threshold = 0.f;
        // 3 x the forward FLOPs of every pass: G on 2 batches; D on the unlabeled and labeled
        // predictions, the 2-batch fakes and the ground truth (the script counts the same).
        flops_per_step = 3.0 * double(kBatch) *
                         (2.0 * double(g->forward_flops(kCrop, kCrop)) +
                          5.0 * double(d->forward_flops(kCrop, kCrop)));
    }
    void run() {
        seg::StepLog log;
        seg::adversarial::step(*g, *d, nn::SegLossConfig(), constants, batches, *g_optimizer,
                               *d_optimizer, 0, log);
    }
};

void BM_AdversarialStep(benchmark::State& state) {
    AdversarialStep step;
    bench::time_cpu_steps(state, "adv_v2_r101/2x129x129", kBatch, step.flops_per_step,
                          [&] { step.run(); });
}
BENCHMARK(BM_AdversarialStep)
    ->Name("TrainStep/adv_v2_r101/2x129x129")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

} // namespace
} // namespace pg
