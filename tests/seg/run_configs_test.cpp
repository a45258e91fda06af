// Every run config shipped in configs/ (those with a `trainer` section) is complete and valid:
// it loads (with its base files), and its net, dataset, criterion and schedule settings parse,
// so a typo in a config is caught here rather than after a user has downloaded a dataset.
#include <filesystem>

#include "seg/config_keys.h"
#include "seg/correct/correct_options.h"
#include "seg/data_config.h"
#include "seg/model_config.h"
#include "seg/train/method.h"
#include "seg/train/ripu_rounds.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> run_configs() {
    std::vector<std::string> out;
    fs::path root = fs::path(PG_TEST_DATA_DIR) / ".." / ".." / "configs";
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().extension() == ".yaml") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(RunConfigs, EveryShippedConfigParses) {
    int checked = 0;
    for (const std::string& path : run_configs()) {
        SCOPED_TRACE(path);
        Config c = Config::load(path);
        check_config_keys(c); // every key known, read by the config's method; reads guarded
        if (!c.has("trainer")) continue; // configs/nets/*: net sections only
        nn::SegmenterOptions net = segmenter_options(c.section("net"));
        (void)net;
        Config d = c.section("dataset");
        int classes = int(c.get_int("net.num_classes"));
        EXPECT_EQ(class_names(d, classes).size(), size_t(classes));
        AugmentConfig train =
            train_augment(d, d.has("source") ? "source" : "train");    // RIPU: source
        EXPECT_TRUE(train.crop_height > 0 || train.resize_height > 0); // fixed-size batches
        EXPECT_GT(eval_augment(d).normalize.std[0], 0.f);
        EvalOptions eval = eval_options(d);
        EXPECT_GE(eval.batch_size, 1);
        criterion_config(c, c.has("net.aux_loss"));
        EXPECT_GT(c.get_float("trainer.optimizer.kwargs.lr"), 0.0);
        EXPECT_TRUE(c.has("trainer.epochs") || c.has("trainer.iterations"));
        EXPECT_FALSE(c.get_string("saver.snapshot_dir").empty());
        if (c.get_string("trainer.method", "") == "ripu") ripu::read_options(c);
        if (c.has("correct")) { // the label-noise pipeline's section, and its weak split
            EXPECT_FALSE(correct_options(c).out.empty());
            EXPECT_TRUE(d.has("weak.list"));
        }
        ++checked;
    }
    // supervised + U2PL: VOC x5 + x5, Cityscapes x3 + x4; AdvSemiSeg: VOC x4, Cityscapes x4;
    // RIPU: GTAV and SYNTHIA -> Cityscapes x3 each; GAT: VOC x2; the synthetic ones
    EXPECT_GE(checked, 50);
}

TEST(RunConfigs, PaperSplitsDifferOnlyInTheirList) {
    fs::path root = fs::path(PG_TEST_DATA_DIR) / ".." / ".." / "configs";
    Config c92 = Config::load((root / "voc" / "supervised_92.yaml").string());
    EXPECT_EQ(c92.get_string("dataset.train.list"), "splits/92/labeled.txt");
    EXPECT_EQ(c92.get_int_list("dataset.train.crop.size"), (std::vector<int64_t>{513, 513}));
    EXPECT_DOUBLE_EQ(c92.get_float("trainer.optimizer.kwargs.lr"), 0.001);
    Config c186 = Config::load((root / "cityscapes" / "supervised_186.yaml").string());
    EXPECT_EQ(c186.get_string("dataset.train.list"), "splits/186/labeled.txt");
    EvalOptions e = eval_options(c186.section("dataset"));
    EXPECT_EQ(e.mode, EvalMode::sliding);
    EXPECT_EQ(e.crop, 769);
    EXPECT_EQ(e.stride, 513);
    EXPECT_EQ(criterion_config(c186, true).type, nn::SegLossType::ohem);
}

// U2PL's configs carry the paper's hyper-parameters (shared/specs/u2pl.md) on top of SupOnly's.
TEST(RunConfigs, U2plConfigsCarryThePapersSettings) {
    fs::path root = fs::path(PG_TEST_DATA_DIR) / ".." / ".." / "configs";
    Config voc = Config::load((root / "voc" / "u2pl_92.yaml").string());
    EXPECT_EQ(voc.get_string("trainer.method"), "u2pl");
    EXPECT_EQ(voc.get_string("dataset.train.list"), "splits/92/labeled.txt");
    EXPECT_EQ(voc.get_string("dataset.unlabeled.list"), "splits/92/unlabeled.txt");
    EXPECT_EQ(voc.get_string("trainer.epoch_samples"), "unlabeled");
    EXPECT_EQ(voc.get_int("trainer.sup_only_epoch"), 1);
    EXPECT_EQ(voc.get_int("trainer.epochs"), 80);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.unsupervised.drop_percent"), 80);
    EXPECT_EQ(voc.get_string("trainer.unsupervised.apply_aug"), "cutmix");
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.contrastive.temperature"), 0.5);
    EXPECT_EQ(voc.get_int("trainer.contrastive.num_queries"), 256);
    EXPECT_EQ(voc.get_int("trainer.contrastive.num_negatives"), 50);
    EXPECT_EQ(voc.get_int("trainer.contrastive.high_rank"), 20);
    EXPECT_DOUBLE_EQ(voc.get_float("net.ema_decay"), 0.99);
    EXPECT_TRUE(segmenter_options(voc.section("net")).v3plus.decoder.use_rep);
    Config city = Config::load((root / "cityscapes" / "u2pl_1488.yaml").string());
    EXPECT_EQ(city.get_string("dataset.unlabeled.list"), "splits/1488/unlabeled.txt");
    EXPECT_EQ(city.get_int("trainer.sup_only_epoch"), 0);
    EXPECT_EQ(city.get_int("trainer.epochs"), 200);
    EXPECT_EQ(criterion_config(city, true).type, nn::SegLossType::ohem);
    EXPECT_EQ(eval_options(city.section("dataset")).mode, EvalMode::sliding);
}

// AdvSemiSeg's VOC recipe (shared/specs/adversarial.md) and the ratios of its table.
TEST(RunConfigs, AdversarialConfigsCarryThePapersSettings) {
    fs::path root = fs::path(PG_TEST_DATA_DIR) / ".." / ".." / "configs";
    Config voc = Config::load((root / "voc" / "adversarial_1_4.yaml").string());
    EXPECT_EQ(voc.get_string("trainer.method"), "adversarial");
    EXPECT_DOUBLE_EQ(voc.get_float("dataset.partial.fraction"), 0.25);
    EXPECT_EQ(voc.get_int("dataset.partial.seed"), 0);
    EXPECT_EQ(voc.get_int("dataset.batch_size"), 10);
    EXPECT_EQ(voc.get_int("trainer.iterations"), 20000);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.optimizer.kwargs.lr"), 2.5e-4);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.optimizer.kwargs.weight_decay"), 5e-4);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.head_lr_mult"), 10);
    EXPECT_EQ(voc.get_string("trainer.discriminator.optimizer.type"), "Adam");
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.discriminator.optimizer.kwargs.lr"), 1e-4);
    EXPECT_EQ(voc.get_float_list("trainer.discriminator.optimizer.kwargs.betas"),
              (std::vector<double>{0.9, 0.99}));
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.adversarial.lambda_adv"), 0.01);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.adversarial.lambda_semi_adv"), 0.001);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.adversarial.lambda_semi"), 0.1);
    EXPECT_DOUBLE_EQ(voc.get_float("trainer.adversarial.mask_threshold"), 0.2);
    EXPECT_EQ(voc.get_int("trainer.adversarial.semi_start"), 5000);
    Config data = voc.section("dataset");
    AugmentConfig train = train_augment(data);
    EXPECT_EQ(train.crop_height, 321);
    EXPECT_TRUE(normalization(data).bgr);
    EvalOptions eval = eval_options(data);
    EXPECT_EQ(eval.mode, EvalMode::pad);
    EXPECT_EQ(eval.crop, 505);
    auto fraction = [&](const std::string& name) {
        return Config::load((root / "voc" / name).string()).get_float("dataset.partial.fraction");
    };
    EXPECT_DOUBLE_EQ(fraction("adversarial_1_8.yaml"), 0.125);
    EXPECT_DOUBLE_EQ(fraction("adversarial_1_2.yaml"), 0.5);
    Config full = Config::load((root / "voc" / "adversarial_full.yaml").string());
    EXPECT_DOUBLE_EQ(full.get_float("trainer.adversarial.lambda_semi"), 0.0);
    Config city = Config::load((root / "cityscapes" / "adversarial_1_8.yaml").string());
    EXPECT_EQ(city.get_int("dataset.batch_size"), 2);
    EXPECT_EQ(city.get_int("trainer.iterations"), 40000);
    EXPECT_EQ(train_augment(city.section("dataset")).resize_width, 1024);
}

} // namespace
} // namespace pg::seg
