// RIPU end to end on tiny source and target worlds (seg/train/ripu.cpp): rounds at the configured
// steps with the budget's labelled share, masks that are the union of the rounds' picks with the
// true labels copied, the random and pixel selections, bit-exact resume across a round (before it
// and right after it), native-size evaluation labels and clear config errors.
#include <fstream>

#include "seg/cli/select_command.h"
#include "seg/data_config.h"
#include "seg/report.h"
#include "seg/train/ripu_rounds.h"
#include "tests/seg/ripu_helpers.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

std::string ripu_config(const std::string& name) {
    return write_config("ripu_" + name, "  iterations: 6\n  eval_interval: 6\n");
}

TrainResult run(const std::string& name, const std::string& selection) {
    TrainOptions o;
    o.config = ripu_config(name);
    o.overrides = ripu_overrides(name, selection);
    o.run_dir = fresh_dir("ripu_" + name);
    o.quiet = true;
    o.finish = false;
    return train(o);
}

nlohmann::json summary(const std::string& run_dir, int round) {
    std::ifstream in(ripu::round_dir(run_dir + "/ripu", round) + "/summary.json");
    return nlohmann::json::parse(in);
}

TEST(Ripu, RoundsLabelTheBudgetAndMasksAreTheUnionOfPicksWithTrueLabels) {
    TrainResult r = run("rounds", "region");
    ASSERT_TRUE(r.completed);
    // 24x40 = 960 pixels, 10% over 2 rounds in 3x3 regions: ceil(960 * 0.05 / 9) = 6 per image.
    for (int round : {1, 2}) {
        nlohmann::json s = summary(r.run_dir, round);
        EXPECT_EQ(s["step"], round == 1 ? 2 : 4);
        EXPECT_EQ(s["picks"], 8 * 6);
        EXPECT_NEAR(double(s["budget_percent"]), round * 100.0 * 6 * 9 / 960, 1e-9);
        // Windows cut by the border label fewer pixels than the budget, never more.
        EXPECT_LE(double(s["labelled_percent"]), double(s["budget_percent"]) + 1e-9);
        EXPECT_GT(double(s["labelled_percent"]), 0.5 * double(s["budget_percent"]));
        for (const char* key : {"picked_error_percent", "error_percent", "picked_void_percent"}) {
            EXPECT_GE(double(s[key]), 0.0) << key;
            EXPECT_LE(double(s[key]), 100.0) << key;
        }
    }
    // Round 2's masks: round 1's selection plus new pixels, labels copied from the truth.
    Config config = Config::load(ripu_config("rounds"), ripu_overrides("rounds", "region"));
    ripu::Acquisition first(config, 5), second(config, 5);
    first.load_round(r.run_dir + "/ripu", 1);
    second.load_round(r.run_dir + "/ripu", 2);
    const Dataset& target = second.target();
    int64_t labelled = 0;
    for (int64_t i = 0; i < target.size(); ++i) {
        Sample truth = target.load(i);
        const ripu::ActiveMaps& a = (*first.maps())[size_t(i)];
        const ripu::ActiveMaps& b = (*second.maps())[size_t(i)];
        for (size_t p = 0; p < b.labels.size(); ++p) {
            if (a.selected[p]) { EXPECT_EQ(b.selected[p], 1) << "image " << i << " pixel " << p; }
            EXPECT_EQ(int(b.labels[p]), b.selected[p] ? truth.label.values[p] : 255);
            if (b.selected[p]) { EXPECT_EQ(b.active[p], 1); }
        }
        labelled += b.selected_count();
    }
    EXPECT_EQ(labelled, int64_t(summary(r.run_dir, 2)["selected_pixels"]));
    EXPECT_TRUE(fs::exists(ripu::round_dir(r.run_dir + "/ripu", 2) + "/overlays"));
    // The report shows each round's overlays with its labelled share.
    std::string html = render_report(r.run_dir);
    EXPECT_NE(html.find("Acquisition round 1"), std::string::npos);
    EXPECT_NE(html.find("Acquisition round 2"), std::string::npos);
    EXPECT_NE(html.find("% of the target pixels labelled"), std::string::npos);
    // The labelled share is logged every step.
    std::vector<nlohmann::json> train_rows = rows(r.run_dir, "train");
    ASSERT_FALSE(train_rows.empty());
    EXPECT_TRUE(train_rows.back().contains("labelled_percent")) << train_rows.back().dump();
}

TEST(Ripu, PixelAndRandomSelectionsKeepTheirBudgets) {
    TrainResult pa = run("pixel", "pixel");
    // PA: 40 pixels at 16x24 -> 40 * 960 / 384 / 2 = 50 per image per round, one pixel each.
    nlohmann::json s = summary(pa.run_dir, 2);
    EXPECT_EQ(int64_t(s["selected_pixels"]), int64_t(s["picks"]) + 8 * 50);
    TrainResult random = run("random", "random");
    EXPECT_EQ(summary(random.run_dir, 1)["picks"], 8 * 6);
}

TEST(Ripu, ResumeAcrossARoundIsBitExact) {
    std::string config = ripu_config("resume");
    std::vector<std::string> o = ripu_overrides("resume", "region");
    // Stopped before round 2 (it runs after the resume) and right after it (its maps reloaded).
    for (int64_t stop : {3, 5}) {
        auto [straight, resumed] =
            straight_and_resumed("ripu_resume_" + std::to_string(stop), config, o, 6, stop);
        expect_same_checkpoints(straight, resumed, {"last.safetensors"});
        std::vector<nlohmann::json> a = rows(straight, "train"), b = rows(resumed, "train");
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << i;
    }
}

TEST(Ripu, ValLabelsStayNative) {
    Config config = Config::load(ripu_config("native"), ripu_overrides("native", "region"));
    Config data = config.section("dataset");
    Dataset val = open_split(data, "val", 5);
    Generator gen(0);
    TensorSample s = augment(val.load(0), eval_augment(data), gen);
    EXPECT_EQ(s.image.shape(), Shape({16, 24, 3}));
    EXPECT_EQ(s.label.shape(), Shape({24, 40}));
}

TEST(Ripu, ConfigErrors) {
    TrainOptions o;
    o.config = ripu_config("errors");
    o.run_dir = fresh_dir("ripu_errors");
    o.quiet = true;
    o.overrides = ripu_overrides("errors", "best");
    expect_errors([&] { train(o); }, {"trainer.ripu.selection", "'best'", "region"});
    o.overrides = ripu_overrides("errors", "region");
    o.overrides.push_back("trainer.ripu.rounds_at=[4, 2]");
    expect_errors([&] { train(o); }, {"rounds_at must be increasing"});
    o.overrides = ripu_overrides("errors", "region");
    o.overrides.push_back("dataset.target=null");
    expect_errors([&] { train(o); }, {"dataset.target"});
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The files of a round folder are byte-identical in two folders.
void expect_same_round(const std::string& a, const std::string& b) {
    int files = 0;
    for (const char* sub : {"masks", "active", "selected"})
        for (const auto& e : fs::directory_iterator(fs::path(a) / sub)) {
            fs::path other = fs::path(b) / sub / e.path().filename();
            ASSERT_TRUE(fs::exists(other)) << other;
            EXPECT_EQ(file_bytes(e.path().string()), file_bytes(other.string())) << e.path();
            ++files;
        }
    EXPECT_EQ(files, 3 * 8);
}

TEST(Ripu, SelectFromACheckpointIsTheRoundTrainingTakes) {
    // Stopped after 2 steps, before round 1 (it runs before step index 2): `select --round 1`
    // from that checkpoint must pick what the resumed run then picks with the same weights.
    TrainOptions o;
    o.config = ripu_config("select");
    o.overrides = ripu_overrides("select", "region");
    o.run_dir = fresh_dir("ripu_select");
    o.quiet = true;
    o.finish = false;
    o.stop_after = 2;
    train(o);
    // The run's config names the folder it ran in (select's default --out is under it).
    EXPECT_EQ(Config::load(o.run_dir + "/config.yaml").get_string("saver.snapshot_dir"), o.run_dir);
    SelectArgs a;
    a.config = o.run_dir + "/config.yaml";
    a.weights = o.run_dir + "/checkpoints/last.safetensors";
    a.out = fresh_dir("ripu_select_out");
    a.round = 1;
    nlohmann::json s = nlohmann::json::parse(run_select(a));
    EXPECT_EQ(s["picks"], 8 * 6);
    EXPECT_TRUE(fs::exists(ripu::round_dir(a.out, 1) + "/overlays"));
    test::expect_error([&] { run_select(a); }, "already exists");
    a.round = 2; // reads round 1 from --out
    nlohmann::json s2 = nlohmann::json::parse(run_select(a));
    EXPECT_GT(int64_t(s2["selected_pixels"]), int64_t(s["selected_pixels"]));
    a.round = 3;
    test::expect_error([&] { run_select(a); }, "plans 2 rounds");
    a.round = 0;
    test::expect_error([&] { run_select(a); }, "expected 1 or more");
    SelectArgs fresh = a;
    fresh.out = fresh_dir("ripu_select_fresh");
    fresh.round = 2; // round 1 was never selected into this folder
    test::expect_error([&] { run_select(fresh); },
                       "--round 2 adds to round 1's labels, but " + ripu::round_dir(fresh.out, 1) +
                           " is missing: select round 1 first, or give the --out that holds it");
    // A round folder that lost a mask is refused, not read as if that image had no labels.
    fs::create_directories(fresh.out);
    fs::copy(ripu::round_dir(a.out, 1), ripu::round_dir(fresh.out, 1), fs::copy_options::recursive);
    fs::path masks = fs::path(ripu::round_dir(fresh.out, 1)) / "masks";
    const int64_t images = std::distance(fs::directory_iterator(masks), fs::directory_iterator());
    fs::remove(*fs::directory_iterator(masks));
    test::expect_error([&] { run_select(fresh); },
                       "holds the masks of " + std::to_string(images - 1) + " of the " +
                           std::to_string(images) +
                           " images its summary.json says round 1 labelled");
    test::expect_error([&] { run_select(fresh); },
                       "restore them, or select round 1 into this folder again (--force)");
    fresh.out = fresh_dir("ripu_select_out_file"); // a file, not a folder
    std::ofstream(fresh.out) << "x";
    test::expect_error([&] { run_select(fresh); }, "is a file; the rounds go in a folder (--out)");

    TrainOptions rest;
    rest.run_dir = o.run_dir;
    rest.resume = true;
    rest.quiet = true;
    rest.finish = false;
    train(rest);
    expect_same_round(ripu::round_dir(o.run_dir + "/ripu", 1), ripu::round_dir(a.out, 1));
}

// The real readers: a GTAV-layout source world and a Cityscapes-layout target world (labelIds,
// mapped to the 19 trainIds), as GTAV -> Cityscapes is read.
TEST(Ripu, GtavSourceAndCityscapesTarget) {
    auto world = [](const std::string& name, synth::Layout layout, synth::Style style, int val) {
        synth::WorldOptions o;
        o.out_dir = ::testing::TempDir() + "pg_ripu_layout_" + name;
        o.layout = layout;
        o.scene.height = 24, o.scene.width = 40;
        o.scene.num_classes = 4;
        o.scene.style = style;
        o.num_train = 8, o.num_val = val, o.seed = 3, o.force = true;
        synth::write_world(o);
        return o.out_dir;
    };
    std::string source = world("gtav", synth::Layout::gtav, synth::Style::source, 0);
    std::string target = world("cityscapes", synth::Layout::cityscapes, synth::Style::target, 4);
    TrainOptions o;
    o.config = ripu_config("layouts");
    o.overrides = {"dataset.type=null",
                   "dataset.root=" + target,
                   "dataset.source={type: gtav, root: " + source +
                       ", resize: [16, 24], flip: false}",
                   "dataset.target={type: cityscapes, root: " + target +
                       ", split: train, resize: [16, 24], flip: false}",
                   "dataset.val={type: cityscapes, root: " + target +
                       ", split: val, resize: [16, 24], native_labels: true}",
                   "net.num_classes=19",
                   "net.aux_loss=null",
                   "trainer.method=ripu",
                   "trainer.ripu={ratio: 0.1, rounds_at: [1]}",
                   "trainer.iterations=3",
                   "trainer.eval_interval=3"};
    o.run_dir = fresh_dir("ripu_layouts");
    o.quiet = true;
    o.finish = false;
    TrainResult r = train(o);
    EXPECT_TRUE(r.completed);
    EXPECT_GE(r.best_miou, 0.0);
    // 10% in one round: ceil(960 * 0.1 / 9) = 11 regions per image.
    EXPECT_EQ(summary(r.run_dir, 1)["picks"], 8 * 11);
    // The world's shape names sit at the trainIds of their labelIds (disc: labelId 8, sidewalk).
    Config c = Config::load(o.run_dir + "/config.yaml");
    std::vector<std::string> names = class_names(c.section("dataset"), 19);
    EXPECT_EQ(names[0], "background");
    EXPECT_EQ(names[1], "disc");
    EXPECT_EQ(names[18], "bicycle");
}

} // namespace
} // namespace pg::seg
