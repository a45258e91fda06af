// The table of known config keys (seg/config_keys.h): misspelt and unknown keys name the nearest
// known key, another method's keys name the method, unknown splits are refused, a repeated section
// is an error, and a read of an undeclared key (a key the table forgot) is an internal error.
#include "seg/config_keys.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using test::error_of;

Config checked(const std::string& yaml) {
    Config c = Config::from_string(yaml, "run.yaml");
    check_config_keys(c);
    return c;
}

TEST(ConfigKeys, KnownKeysSplitsAndSections) {
    EXPECT_NE(find_config_key("trainer.iterations"), nullptr);
    EXPECT_NE(find_config_key("dataset.val.crop.size"), nullptr);
    EXPECT_NE(find_config_key("dataset.unlabeled.list"), nullptr);
    EXPECT_NE(find_config_key("dataset.list"), nullptr); // a split key at the dataset level
    EXPECT_EQ(find_config_key("dataset.trian.list"), nullptr);
    EXPECT_EQ(find_config_key("dataset.crop.size"), nullptr); // a split-only key
    EXPECT_EQ(find_config_key("trainer.contrastive.queue_size")->method, "u2pl");
    EXPECT_EQ(nearest_config_key("trainer.iteratons"), "trainer.iterations");
    EXPECT_EQ(nearest_config_key("dataset.val.crop.sise"), "dataset.val.crop.size");
    EXPECT_EQ(nearest_config_key("net.backbone.dept"), "net.backbone.depth");
}

TEST(ConfigKeys, ErrorsNameTheKeyAndTheNearestOrTheMethod) {
    EXPECT_NO_THROW(
        checked("trainer: {iterations: 3, method: u2pl, contrastive: {queue_size: 9}}"));
    std::string e = error_of([] { checked("trainer: {iteratons: 3}"); });
    EXPECT_NE(e.find("run.yaml: unknown key 'trainer.iteratons' (did you mean "
                     "'trainer.iterations'?)"),
              std::string::npos)
        << e;
    e = error_of([] { checked("trainer: {contrastive: {queue_size: 9}}"); });
    EXPECT_NE(e.find("read only by trainer.method u2pl"), std::string::npos) << e;
    EXPECT_NE(e.find("method is supervised"), std::string::npos) << e;
    e = error_of([] { checked("trainer: {optimizer: 5}"); }); // a value where a section belongs
    EXPECT_NE(e.find("run.yaml: 'trainer.optimizer' is a section, not a value (it holds keys "
                     "such as 'trainer.optimizer.type')"),
              std::string::npos)
        << e;
    e = error_of([] { checked("dataset: {tran: {list: a.txt}}"); });
    EXPECT_NE(e.find("dataset.tran is not a dataset split"), std::string::npos) << e;
    e = error_of(
        [] { Config::from_string("net: {num_classes: 3}\nnet: {arch: deeplabv2}\n", "x.yaml"); });
    EXPECT_NE(e.find("x.yaml: 'net' is given twice (lines 1 and 2)"), std::string::npos) << e;
    e = error_of([] { Config::from_string("net:\n  arch: a\n  arch: b\n", "y.yaml"); });
    EXPECT_NE(e.find("'net.arch' is given twice"), std::string::npos) << e;
    // Found by `make fuzz`: a list as a key was an uncaught yaml-cpp exception.
    e = error_of([] { Config::from_string("a: 1\n? [x, y]\n: 1\n", "z.yaml"); });
    EXPECT_NE(e.find("z.yaml: line 2: a key is a list or mapping"), std::string::npos) << e;
    // ... and an empty key recursed forever (a section named "" is the section itself).
    e = error_of([] { Config::from_string("\"\": 1\n", "e.yaml"); });
    EXPECT_NE(e.find("e.yaml: line 1: key '' is not a plain name"), std::string::npos) << e;
    for (const char* key : {".x", "a..b", "a.", "t$r.lr"}) { // `--set .x=1` segfaulted
        e = error_of([&] { Config::from_string("a: 1").set(key, "1"); });
        EXPECT_NE(e.find("none empty"), std::string::npos) << key << ": " << e;
    }
    e = error_of([] { Config::from_string("a: 1").set("b", "{[x]: 1}"); });
    EXPECT_NE(e.find("--set b: line 1: a key under 'b' is a list or mapping"), std::string::npos)
        << e;
}

// Found by `make fuzz-smoke` in CI: a value ending in lone carriage returns was written back by
// to_yaml() in a form that read back as another value, so config.yaml would not have resumed the
// run it describes. Control characters in values are refused; Windows line endings still load.
TEST(ConfigKeys, ValuesArePrintableTextAndCrLfFilesLoad) {
    Config crlf = Config::from_string("net:\r\n  arch: deeplabv2\r\n  dilations: [6, 12]\r\n");
    EXPECT_EQ(crlf.get_string("net.arch"), "deeplabv2");
    EXPECT_EQ(crlf.get_int_list("net.dilations"), (std::vector<int64_t>{6, 12}));
    EXPECT_EQ(Config::from_string(crlf.to_yaml()).to_yaml(), crlf.to_yaml());

    std::string e = error_of([] { Config::from_string("a:\n  compat: paper  \r\r\n", "c.yaml"); });
    EXPECT_NE(e.find("c.yaml: line 2: the value of 'a.compat' holds the control character 0x0D"),
              std::string::npos)
        << e;
    e = error_of([] { Config::from_string("a: {b: [x, \"y\\tz\"]}\n", "t.yaml"); });
    EXPECT_NE(e.find("the value of 'a.b' holds the control character 0x09"), std::string::npos)
        << e;
    e = error_of([] { Config::from_string("a: 1").set("b.c", "\"x\\ny\""); });
    EXPECT_NE(e.find("--set b.c: line 1: the value of 'b.c' holds the control character 0x0A"),
              std::string::npos)
        << e;
}

TEST(ConfigKeys, ReadingAnUndeclaredKeyIsAnInternalError) {
    Config c = checked("trainer: {iterations: 3}\ndataset: {val: {split: val}}\n");
    EXPECT_EQ(c.get_int("trainer.iterations"), 3);
    EXPECT_EQ(c.section("dataset").get_string("val.split"), "val"); // sections keep the guard
    EXPECT_TRUE(c.has("dataset.val"));
    std::string e = error_of([&] { c.get_int("trainer.undeclared", 0); });
    EXPECT_NE(e.find("internal: config key 'trainer.undeclared' is read but not declared"),
              std::string::npos)
        << e;
    e = error_of([&] { c.section("dataset").has("val.undeclared"); });
    EXPECT_NE(e.find("'dataset.val.undeclared'"), std::string::npos) << e;
    Config unguarded = Config::from_string("a: {b: 1}"); // only checked configs are guarded
    EXPECT_EQ(unguarded.get_int("a.b"), 1);
}

} // namespace
} // namespace pg::seg
