// Config: nested lookups with types, --set overrides (scalars, lists, new sections), errors that
// name the file, the dotted key and the value, and the effective config round-tripping as YAML.
#include <fstream>

#include "seg/config.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using test::error_of;

const char* kYaml = R"(
dataset:
  type: voc
  train: {crop_size: [321, 321], rand_resize: [0.5, 2.0]}
net:
  num_classes: 21
  decoder: {dilations: [12, 24, 36], use_rep: true}
trainer:
  lr: 0.001
  optimizer: {type: SGD}
)";

TEST(Config, TypedLookupsAndSections) {
    Config c = Config::from_string(kYaml, "voc.yaml");
    EXPECT_EQ(c.get_string("dataset.type"), "voc");
    EXPECT_EQ(c.get_int("net.num_classes"), 21);
    EXPECT_DOUBLE_EQ(c.get_float("trainer.lr"), 0.001);
    EXPECT_EQ(c.get_int_list("net.decoder.dilations"), (std::vector<int64_t>{12, 24, 36}));
    EXPECT_EQ(c.get_float_list("dataset.train.rand_resize"), (std::vector<double>{0.5, 2.0}));
    EXPECT_TRUE(c.get_bool("net.decoder.use_rep"));
    EXPECT_EQ(c.get_int("trainer.epochs", 80), 80);
    EXPECT_FALSE(c.has("trainer.epochs"));
    Config net = c.section("net");
    EXPECT_EQ(net.get_int("num_classes"), 21);
    EXPECT_EQ(c.keys(), (std::vector<std::string>{"dataset", "net", "trainer"}));
}

TEST(Config, OverridesParseYamlValuesAndCreateSections) {
    std::string path = ::testing::TempDir() + "pg_config.yaml";
    std::ofstream(path) << kYaml;
    Config c = Config::load(path, {"trainer.lr=0.01", "net.decoder.dilations=[6, 12, 18]",
                                   "trainer.ema.decay=0.99", "dataset.type=cityscapes"});
    EXPECT_DOUBLE_EQ(c.get_float("trainer.lr"), 0.01);
    EXPECT_EQ(c.get_int_list("net.decoder.dilations"), (std::vector<int64_t>{6, 12, 18}));
    EXPECT_DOUBLE_EQ(c.get_float("trainer.ema.decay"), 0.99);
    EXPECT_EQ(c.get_string("dataset.type"), "cityscapes");
    // The effective config reads back identically.
    std::string saved = ::testing::TempDir() + "pg_config_effective.yaml";
    c.save(saved);
    Config again = Config::load(saved);
    EXPECT_EQ(again.to_yaml(), c.to_yaml());
    EXPECT_EQ(again.get_int_list("net.decoder.dilations"), (std::vector<int64_t>{6, 12, 18}));
}

TEST(Config, ErrorsNameTheFileTheKeyAndTheValue) {
    Config c = Config::from_string(kYaml, "voc.yaml");
    std::string m = error_of([&] { c.get_int("net.classes"); });
    EXPECT_NE(m.find("voc.yaml: missing key 'net.classes'"), std::string::npos) << m;
    m = error_of([&] { c.get_int("dataset.type"); });
    EXPECT_NE(m.find("voc.yaml: dataset.type is 'voc', expected an integer"), std::string::npos)
        << m;
    m = error_of([&] { c.section("net").get_bool("decoder.dilations"); });
    EXPECT_NE(m.find("net.decoder.dilations is a list or section, expected true or false"),
              std::string::npos)
        << m;
    m = error_of([&] { Config::load("/nonexistent/x.yaml"); });
    EXPECT_NE(m.find("/nonexistent/x.yaml: cannot open"), std::string::npos) << m;
    m = error_of([&] { Config::from_string("a: [1, 2", "bad.yaml"); });
    EXPECT_NE(m.find("bad.yaml: not valid YAML"), std::string::npos) << m;
    m = error_of([&] { Config::from_string(kYaml, "v.yaml").set("trainer.lr.x", "1"); });
    EXPECT_NE(m.find("'lr' is not a section"), std::string::npos) << m;
    std::string path = ::testing::TempDir() + "pg_config2.yaml";
    std::ofstream(path) << kYaml;
    m = error_of([&] { Config::load(path, {"trainer.lr"}); });
    EXPECT_NE(m.find("expected key=value"), std::string::npos) << m;
}

// A value a --set gave is blamed on that --set, not on the file: the key itself or a section above
// it, the last --set of it winning; the file's own values still name the file.
TEST(Config, ErrorsInOverriddenValuesNameTheSet) {
    std::string path = ::testing::TempDir() + "pg_config_set.yaml";
    std::ofstream(path) << kYaml;
    Config c = Config::load(path, {"net.num_classes=many", "trainer.optimizer={type: 3, lr: x}",
                                   "trainer.optimizer.type=SGD"});
    std::string m = error_of([&] { c.get_int("net.num_classes"); });
    EXPECT_NE(m.find("--set net.num_classes: net.num_classes is 'many', expected an integer"),
              std::string::npos)
        << m;
    m = error_of([&] { c.section("trainer").section("optimizer").get_float("lr"); });
    EXPECT_NE(m.find("--set trainer.optimizer: trainer.optimizer.lr is 'x', expected a number"),
              std::string::npos)
        << m;
    EXPECT_EQ(c.origin("trainer.optimizer.type"), "--set trainer.optimizer.type");
    EXPECT_EQ(c.section("net").origin("num_classes"), "--set net.num_classes");
    EXPECT_EQ(c.origin("trainer.lr"), path);
    EXPECT_EQ(c.origin("net.num_classes_extra"), path);  // a name that only starts the same
    EXPECT_EQ(c.origin("net"), "--set net.num_classes"); // a section: a --set inside it
    EXPECT_EQ(c.origin("ne"), path);
    m = error_of([&] { c.get_int("dataset.type"); });
    EXPECT_NE(m.find(path + ": dataset.type is 'voc', expected an integer"), std::string::npos)
        << m;
    // A key a --set removed (by replacing its section) is missing because of that --set.
    m = error_of([&] { c.get_float("trainer.optimizer.lr_mult"); });
    EXPECT_NE(m.find("--set trainer.optimizer: missing key 'trainer.optimizer.lr_mult'"),
              std::string::npos)
        << m;
    // Checks of several keys name the first one a --set wrote.
    EXPECT_EQ(c.origin_of_any({"trainer.lr", "net.num_classes"}), "--set net.num_classes");
    EXPECT_EQ(c.origin_of_any({"trainer.lr", "dataset.type"}), path);
}

// `base:` chains: the child's keys win, maps merge key by key, lists are replaced whole, the
// base path is relative to the child, and a cycle is an error instead of a hang.
TEST(Config, BaseFilesMergeUnderTheChild) {
    std::string dir = ::testing::TempDir();
    std::ofstream(dir + "pg_cfg_base.yaml") << kYaml;
    std::ofstream(dir + "pg_cfg_mid.yaml")
        << "base: pg_cfg_base.yaml\ndataset: {train: {rand_resize: [1.0, 1.0]}}\n";
    std::ofstream(dir + "pg_cfg_child.yaml")
        << "base: pg_cfg_mid.yaml\nnet: {num_classes: 5}\ntrainer: {lr: 0.01}\n";
    Config c = Config::load(dir + "pg_cfg_child.yaml", {"trainer.optimizer.type=Adam"});
    EXPECT_EQ(c.get_int("net.num_classes"), 5);
    EXPECT_EQ(c.get_int_list("net.decoder.dilations"), (std::vector<int64_t>{12, 24, 36}));
    EXPECT_EQ(c.get_float_list("dataset.train.rand_resize"), (std::vector<double>{1.0, 1.0}));
    EXPECT_EQ(c.get_int_list("dataset.train.crop_size"), (std::vector<int64_t>{321, 321}));
    EXPECT_DOUBLE_EQ(c.get_float("trainer.lr"), 0.01);
    EXPECT_EQ(c.get_string("trainer.optimizer.type"), "Adam");
    EXPECT_FALSE(c.has("base"));

    std::ofstream(dir + "pg_cfg_loop.yaml") << "base: pg_cfg_loop.yaml\n";
    EXPECT_NE(error_of([&] { Config::load(dir + "pg_cfg_loop.yaml"); }).find("cycle"),
              std::string::npos);
    std::ofstream(dir + "pg_cfg_orphan.yaml") << "base: pg_cfg_absent.yaml\n";
    EXPECT_NE(
        error_of([&] { Config::load(dir + "pg_cfg_orphan.yaml"); }).find("pg_cfg_absent.yaml"),
        std::string::npos);
}

} // namespace
} // namespace pg::seg
