// AdvSemiSeg (seg/train/adversarial.cpp) on small tensors and a tiny synthetic world: the semi
// targets and their threshold, the one-hot ground truth, D frozen for G's terms (no gradient on
// D's parameters, G's gradient through D), the semi term absent before semi_start and on an empty
// mask, both BN modes of the DeepLab-v2, D's loss logged apart from G's, bit-exact resume across
// semi_start with D and its Adam state, and clear config errors.
#include <set>

#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/softmax.h"
#include "nn/losses.h"
#include "nn/segmenter.h"
#include "seg/data_config.h"
#include "seg/model_config.h"
#include "seg/train/adversarial_parts.h"
#include "seg/train/parts.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

using namespace adversarial;

// The tiny world's 16 labeled + 16 unlabeled images, batch 4: 4 steps per epoch.
std::vector<std::string> adversarial_overrides() {
    return {"trainer.method=adversarial", "dataset.unlabeled={list: splits/16/unlabeled.txt}",
            "trainer.adversarial={ndf: 8, semi_start: 2}",
            "trainer.discriminator={optimizer: {type: Adam, kwargs: {lr: 1.0e-4, betas: [0.9, "
            "0.99]}}, lr_scheduler: {mode: poly}}"};
}

// The method driven by hand, as the trainer drives it: the model and the method's parts with
// their optimizers and schedules, one labeled batch per step.
struct AdvRun {
    Config config;
    Generator init{0}, dropout{1};
    std::shared_ptr<nn::SegmentationNet> model;
    std::unique_ptr<Loader> labeled;
    std::unique_ptr<Method> method;
    std::vector<Part> parts;

    AdvRun(const std::string& name, std::vector<std::string> overrides, int64_t steps = 4)
        : config(Config::load(write_config(name, "  iterations: " + std::to_string(steps) + "\n"),
                              [&] {
                                  std::vector<std::string> all = adversarial_overrides();
                                  all.insert(all.end(), overrides.begin(), overrides.end());
                                  return all;
                              }())) {
        Config data = config.section("dataset");
        model = nn::build_segmenter(segmenter_options(config.section("net")), init);
        model->set_generator(&dropout);
        model->train();
        LoaderConfig lc = train_loader_config(data, 0);
        lc.infinite = true;
        labeled = std::make_unique<Loader>(open_split(data, "train", 5), train_augment(data), lc);
        method = make_method("adversarial",
                             MethodContext{&config, model, Device::cpu(), 0, steps, 4, ""});
        parts.push_back(make_part(
            config, PartSpec{"model", model.get(), "trainer", {{model->trainable_parameters()}}},
            steps));
        for (const PartSpec& spec : method->parts())
            parts.push_back(make_part(config, spec, steps));
    }
    StepLog step(int64_t k) {
        Batch batch;
        labeled->next(batch);
        StepLog log;
        method->step(batch, k, k / 4, optimizers_for_step(parts, k), log);
        return log;
    }
    nn::Module& discriminator() { return *parts.at(1).module; }
};

double value_of(const std::vector<std::pair<std::string, double>>& list, const std::string& name) {
    for (const auto& [n, v] : list)
        if (n == name) return v;
    ADD_FAILURE() << "no '" << name << "' logged";
    return NAN;
}

TEST(AdversarialParts, SemiTargetsAreTheArgmaxWhereDTrustsThePrediction) {
    // 1 x 1 x 3 pixels, 2 classes: argmax 1, 0, 1; D's logits: sigmoid 0.5, 0.119, 0.2 (= T).
    Tensor logits = Tensor::from_vector(std::vector<float>{0, 2, 3, 1, -1, 0}, {1, 1, 3, 2});
    Tensor d = Tensor::from_vector(std::vector<float>{0.f, -2.f, std::log(0.25f)}, {1, 1, 3, 1});
    int64_t kept = -1;
    Tensor t = semi_targets(logits, d, 0.2f, kept);
    EXPECT_EQ(t.to_i32_vector(), (std::vector<int32_t>{1, 255, 1})); // >= T keeps (the original
    EXPECT_EQ(kept, 2);                                              // ignores sigmoid < T)
    semi_targets(logits, d, 0.9f, kept);
    EXPECT_EQ(kept, 0);
}

// 1 x 1 x 4 pixels, 2 classes: argmax 1, 0, 1, 1; targets on pixels 0, 1, 3; truth 1, 1, 255, 1.
// Targets: pixel 0 right, 1 wrong, 3 right (2/3); argmax: 0 and 3 right of the 3 labeled (2/3);
// the pixel labeled 255 counts in neither.
TEST(AdversarialParts, TargetScoresCountOnlyLabeledPixels) {
    Tensor logits = Tensor::from_vector(std::vector<float>{0, 2, 3, 1, 0, 1, -1, 4}, {1, 1, 4, 2});
    Tensor targets = Tensor::from_vector(std::vector<int32_t>{1, 0, 255, 1}, {1, 1, 4});
    Tensor truth = Tensor::from_vector(std::vector<int32_t>{1, 1, 255, 1}, {1, 1, 4});
    TargetScores s = score_targets(logits, targets, truth);
    EXPECT_DOUBLE_EQ(s.target_accuracy, 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(s.pixel_accuracy, 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(s.target_foreground, 2.0 / 3.0); // targets 1, 0, 1
    EXPECT_DOUBLE_EQ(s.foreground, 1.0);              // truth 1, 1, 1 where labelled
    Tensor padded = Tensor::from_vector(std::vector<int32_t>{255, 255, 255, 1}, {1, 1, 4});
    s = score_targets(logits, targets, padded);
    EXPECT_DOUBLE_EQ(s.target_accuracy, 1.0); // only pixel 3 has a label: right
    s = score_targets(logits, Tensor::full({1, 1, 4}, 255.f, DType::i32), padded);
    EXPECT_DOUBLE_EQ(s.target_accuracy, 0.0); // no target: 0, not NaN
}

TEST(AdversarialParts, GroundTruthIsOneHotAndAllZeroAt255) {
    Tensor labels = Tensor::from_vector(std::vector<int32_t>{2, 255, 0}, {1, 1, 3});
    EXPECT_EQ(ground_truth_maps(labels, 3).to_f32_vector(),
              (std::vector<float>{0, 0, 1, 0, 0, 0, 1, 0, 0}));
    EXPECT_EQ(labeled_pixels(labels).to_u8_vector(), (std::vector<uint8_t>{1, 0, 1}));
}

// D frozen (requires_grad off), as the method runs G's terms: D's parameters get no gradient,
// while the gradient of BCE(D(softmax(x)), 1) w.r.t. x flows through D (finite differences).
TEST(AdversarialParts, FrozenDiscriminatorPassesTheGradientToItsInputOnly) {
    Generator gen(3);
    nn::FCDiscriminator d({3, 4}, gen);
    for (Tensor p : d.parameters()) p.set_requires_grad(false);
    Tensor x = Tensor::normal({1, 32, 32, 3}, gen);
    auto loss_of = [&](const Tensor& in) {
        return nn::bce_with_constant_target(discriminator_logits(d, softmax(in)), 1.f);
    };
    x.set_requires_grad(true);
    backward(loss_of(x));
    for (Tensor p : d.parameters()) EXPECT_FALSE(p.grad().defined());
    ASSERT_TRUE(x.grad().defined());
    std::vector<float> analytic = x.grad().to_f32_vector(), base = x.detach().to_f32_vector();
    NoGradGuard no_grad;
    for (int64_t i : {0, 100, 1000, 2500, 3071}) {
        const float h = 1e-2f;
        std::vector<float> plus = base, minus = base;
        plus[size_t(i)] += h, minus[size_t(i)] -= h;
        double numeric = (loss_of(Tensor::from_vector(plus, x.shape())).item() -
                          loss_of(Tensor::from_vector(minus, x.shape())).item()) /
                         (2 * h);
        EXPECT_NEAR(analytic[size_t(i)], numeric, 2e-4 + 0.05 * std::abs(numeric)) << i;
    }
}

// The same step with lambda_adv = 0 and 1 (both lrs 0, so both runs see the same networks and
// batches): D's gradients are bit-identical (G's adversarial term never reaches D's
// parameters), G's differ (it receives the term through D).
TEST(Adversarial, GeneratorTermsTrainGThroughDAndNeverD) {
    std::vector<std::string> frozen{"trainer.optimizer.kwargs.lr=0",
                                    "trainer.discriminator.optimizer.kwargs.lr=0",
                                    "trainer.adversarial.lambda_semi_adv=0"};
    auto grads = [&](const std::string& name, double lambda_adv) {
        std::vector<std::string> o = frozen;
        o.push_back("trainer.adversarial.lambda_adv=" + std::to_string(lambda_adv));
        AdvRun run(name, o);
        run.step(0);
        std::vector<Tensor> g, d;
        for (const Tensor& p : run.model->trainable_parameters())
            g.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
        for (const Tensor& p : run.discriminator().parameters()) d.push_back(p.grad().clone());
        return std::make_pair(g, d);
    };
    auto [g0, d0] = grads("adv_grad0", 0.0);
    auto [g1, d1] = grads("adv_grad1", 1.0);
    ASSERT_EQ(d0.size(), d1.size());
    for (size_t i = 0; i < d0.size(); i++) EXPECT_TRUE(test::all_equal(d0[i], d1[i])) << i;
    int differ = 0;
    for (size_t i = 0; i < g0.size(); i++)
        if (g0[i].defined() && !test::all_equal(g0[i], g1[i])) differ++;
    EXPECT_GT(differ, int(g0.size()) / 2);
}

// L_semi is 0 before semi_start and positive after; with T = 1 the mask stays empty and the term
// is skipped. D's loss is logged as its own part, not inside the model's terms.
TEST(Adversarial, SemiTermStartsAtSemiStartAndSkipsAnEmptyMask) {
    AdvRun run("adv_semi", {"trainer.adversarial.score_semi_targets=true"});
    for (int64_t k = 0; k < 3; k++) {
        StepLog log = run.step(k);
        if (k < 2) {
            EXPECT_EQ(value_of(log.losses, "semi"), 0.0) << k;
        } else {
            EXPECT_GT(value_of(log.losses, "semi"), 0.0);
            EXPECT_GT(value_of(log.extra, "semi_mask_fraction"), 0.0);
            double accuracy = value_of(log.extra, "semi_target_accuracy");
            EXPECT_GE(accuracy, 0.0);
            EXPECT_LE(accuracy, 1.0);
        }
        EXPECT_GT(value_of(log.losses, "seg"), 0.0);
        EXPECT_GT(value_of(log.part_losses, "discriminator"), 0.0);
        EXPECT_NEAR(value_of(log.part_losses, "discriminator"),
                    value_of(log.extra, "d_fake") + value_of(log.extra, "d_real"), 1e-6);
        for (const auto& [name, v] : log.losses) EXPECT_NE(name, "discriminator");
    }
    AdvRun empty("adv_empty", {"trainer.adversarial.mask_threshold=1.0"});
    for (int64_t k = 0; k < 3; k++) {
        StepLog log = empty.step(k);
        EXPECT_EQ(value_of(log.losses, "semi"), 0.0);
    }
}

// DeepLab-v2 with bn: frozen keeps BN's running statistics and affine; batch_stats_frozen_affine
// (the original) moves the statistics and keeps the affine.
TEST(Adversarial, BothBatchNormModesKeepTheAffineFixed) {
    for (const char* mode : {"frozen", "batch_stats_frozen_affine"}) {
        AdvRun run(std::string("adv_bn_") + mode,
                   {"net.arch=deeplabv2", "net.aspp_rates=[1, 2, 3, 4]",
                    std::string("net.backbone={variant: A, blocks: [1, 1, 1, 1], width: 0.0625, "
                                "bn: ") +
                        mode + "}"});
        std::map<std::string, Tensor> before;
        for (auto& [k, t] : run.model->state_dict()) before[k] = t.clone();
        run.step(0);
        run.step(1);
        int stats_moved = 0, affine_moved = 0, conv_moved = 0;
        for (auto& [k, t] : run.model->state_dict()) {
            bool same = test::all_equal(t, before.at(k));
            if (k.find("bn") == std::string::npos) {
                conv_moved += !same;
                continue;
            }
            if (k.find("running_") != std::string::npos) stats_moved += !same;
            if (k.size() > 7 &&
                (k.substr(k.size() - 7) == ".weight" || k.substr(k.size() - 5) == ".bias"))
                affine_moved += !same;
        }
        EXPECT_GT(conv_moved, 0) << mode;
        EXPECT_EQ(affine_moved, 0) << mode;
        if (std::string(mode) == "frozen")
            EXPECT_EQ(stats_moved, 0);
        else
            EXPECT_GT(stats_moved, 0);
    }
}

// Stopped before semi_start (step 2) and resumed: G, D, D's Adam moments, both extra samplers
// continue exactly; logged rows carry loss_discriminator and lr_discriminator.
TEST(Adversarial, ResumeAcrossSemiStartIsBitExact) {
    std::string config = write_config("adv_resume", "  iterations: 6\n  eval_interval: 3\n");
    auto [straight_dir, resumed_dir] =
        straight_and_resumed("adv_resume", config, adversarial_overrides(), 6, 1);
    expect_same_checkpoints(straight_dir, resumed_dir,
                            {"last.safetensors", "best.safetensors", "last.state.safetensors"});
    nn::TrainState s = nn::load_train_state(straight_dir + "/checkpoints/last.state.safetensors");
    ASSERT_EQ(s.parts.count("discriminator"), 1u);
    EXPECT_FALSE(s.parts.at("discriminator").optimizer.empty()); // Adam's moments
    std::vector<nlohmann::json> ra = rows(straight_dir, "train"), rb = rows(resumed_dir, "train");
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); i++)
        for (const char* k : {"loss", "losses", "loss_discriminator", "lr_discriminator"})
            EXPECT_EQ(ra[i][k], rb[i][k]) << k << " " << i;
}

// dataset.partial: a seeded shuffle of the train list splits it into labeled and unlabeled
// parts, disjoint and together the whole list; the same seed picks the same ids, another seed
// others; fraction f picks int(f * size).
TEST(AdversarialPartial, SeededShuffleSplitsTheTrainList) {
    auto split_of = [](const std::string& partial) {
        Config c =
            Config::load(write_config("adv_partial"), {"dataset.train.list=splits/16/unlabeled.txt",
                                                       "dataset.partial=" + partial});
        Config data = c.section("dataset");
        Dataset labeled = open_split(data, "train", 5),
                rest = open_split(data, "unlabeled", 5, false);
        std::vector<std::string> a, b;
        for (int64_t i = 0; i < labeled.size(); ++i) a.push_back(labeled.id(i));
        for (int64_t i = 0; i < rest.size(); ++i) b.push_back(rest.id(i));
        EXPECT_TRUE(labeled.labeled());
        EXPECT_FALSE(rest.labeled());
        return std::make_pair(a, b);
    };
    auto [labeled, rest] = split_of("{count: 5, seed: 3}");
    EXPECT_EQ(labeled.size(), 5u);
    EXPECT_EQ(rest.size(), 11u); // the 16-image list
    std::set<std::string> all(labeled.begin(), labeled.end());
    all.insert(rest.begin(), rest.end());
    EXPECT_EQ(all.size(), 16u);
    EXPECT_EQ(split_of("{count: 5, seed: 3}").first, labeled);
    EXPECT_NE(split_of("{count: 5, seed: 4}").first, labeled);
    EXPECT_EQ(split_of("{fraction: 0.25}").first.size(), 4u);
    Config bad = Config::load(write_config("adv_partial"), {"dataset.partial={count: 17}"});
    expect_errors([&] { open_split(bad.section("dataset"), "train", 5); },
                  {"dataset.partial", "17", "1..16"});
    Config both =
        Config::load(write_config("adv_partial"), {"dataset.partial={count: 2, fraction: 0.5}"});
    expect_errors([&] { open_split(both.section("dataset"), "train", 5); },
                  {"exactly one of fraction", "count"});
}

// The run keeps the chosen ids (RUN_DIR/labeled_ids.txt, unlabeled_ids.txt); a resume whose
// partial.seed picks other images is an error naming the file.
TEST(AdversarialPartial, RunSavesTheLabeledIdsAndResumeChecksThem) {
    TrainOptions o;
    o.config = write_config("adv_partial_run", "  iterations: 4\n");
    o.run_dir = fresh_dir("adv_partial_run");
    o.quiet = true;
    o.finish = false;
    o.overrides = adversarial_overrides();
    o.overrides[1] = "dataset.partial={count: 8, seed: 1}"; // unlabeled: the other 8 of the 16
    o.stop_after = 2;
    train(o);
    auto read_lines = [](const std::string& path) {
        std::ifstream in(path);
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        return lines;
    };
    std::vector<std::string> labeled = read_lines(o.run_dir + "/labeled_ids.txt");
    std::vector<std::string> unlabeled = read_lines(o.run_dir + "/unlabeled_ids.txt");
    Config c = Config::load(o.config, o.overrides);
    Dataset picked = open_split(c.section("dataset"), "train", 5);
    ASSERT_EQ(labeled.size(), 8u);
    for (int64_t i = 0; i < picked.size(); ++i) EXPECT_EQ(labeled[size_t(i)], picked.id(i));
    EXPECT_EQ(unlabeled.size(), 8u);
    TrainOptions again = o;
    again.resume = true;
    again.stop_after = 0;
    again.overrides.push_back("dataset.partial.seed=2");
    expect_errors([&] { train(again); }, {"labeled_ids.txt", "partial.seed"});
    again.overrides.pop_back();
    EXPECT_TRUE(train(again).completed);
}

TEST(Adversarial, ConfigErrorsNameTheKey) {
    TrainOptions o;
    o.config = write_config("adv_errors", "  iterations: 2\n");
    o.run_dir = fresh_dir("adv_errors");
    o.quiet = true;
    o.overrides = {"trainer.method=adversarial"};
    expect_errors([&] { train(o); }, {"trainer.discriminator.optimizer", "Adam"});
    o.overrides = adversarial_overrides();
    o.overrides.erase(o.overrides.begin() + 1); // no dataset.unlabeled
    expect_errors([&] { train(o); }, {"dataset.unlabeled", "lambda_semi"});
    o.overrides = adversarial_overrides();
    o.overrides.push_back("trainer.adversarial.mask_treshold=0.3");
    expect_errors([&] { train(o); }, {"mask_treshold", "trainer.adversarial.mask_threshold"});
    o.overrides = adversarial_overrides();
    o.overrides.push_back("trainer.discriminator.lr_scheduler.kwargs.max_iter=1");
    expect_errors([&] { train(o); }, {"max_iter is 1", "shorter than the run"});
}

} // namespace
} // namespace pg::seg
