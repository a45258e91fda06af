// The synthetic world (seg/synth): the shape catalogue, scene determinism and independence from
// the image count, the void band, class balance, colour carrying no class information, source vs
// target styles, and the VOC / Cityscapes / GTAV layouts read back through seg/data/image_io.h.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>

#include "seg/cli/synth_command.h"
#include "seg/data/image_io.h"
#include "seg/synth/shapes.h"
#include "seg/synth/world.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::seg::synth {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
    fs::path dir = fs::path(::testing::TempDir()) / ("pg_synth_" + name);
    fs::remove_all(dir);
    return dir;
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> read_lines(const fs::path& path) {
    std::istringstream in(read_bytes(path));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// tags.txt: entry -> classes.
std::map<std::string, std::set<int>> read_tags(const fs::path& path) {
    std::map<std::string, std::set<int>> tags;
    for (const std::string& line : read_lines(path)) {
        std::istringstream in(line);
        std::string entry;
        in >> entry;
        std::set<int>& set = tags[entry];
        for (int c; in >> c;) set.insert(c);
    }
    return tags;
}

std::set<int> foreground_values(const LabelMap& labels) {
    std::set<int> values;
    for (int32_t v : labels.values)
        if (v != 0 && v != 255) values.insert(v);
    return values;
}

WorldOptions small_world(const fs::path& dir, Layout layout, int train, int val) {
    WorldOptions o;
    o.out_dir = dir.string();
    o.layout = layout;
    o.scene.height = 40;
    o.scene.width = 48;
    o.num_train = train;
    o.num_val = val;
    o.seed = 7;
    return o;
}

// Membership of a 60 x 60 grid over [-1.2, 1.2)^2 in the shape.
std::vector<bool> shape_mask(int shape, float param) {
    std::vector<bool> mask;
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 60; x++)
            mask.push_back(shape_contains(shape, -1.2f + 0.04f * x, -1.2f + 0.04f * y, param));
    return mask;
}

TEST(Synth, ShapesAreBoundedAndPairwiseDistinct) {
    for (int s = 0; s < shape_count(); s++) {
        std::vector<bool> mask = shape_mask(s, 0.5f);
        int inside = int(std::count(mask.begin(), mask.end(), true));
        EXPECT_GT(inside, 150) << shape_name(s); // at least ~7% of the grid
        for (int i = 0; i < 3600; i++) {
            float u = -1.2f + 0.04f * float(i % 60), v = -1.2f + 0.04f * float(i / 60);
            if (mask[size_t(i)]) {
                EXPECT_LE(u * u + v * v, 1.15f * 1.15f) << shape_name(s); // scene.cpp's reach
            }
        }
        for (int t = 0; t < s; t++) { // IoU of two different shapes stays well below 1
            std::vector<bool> other = shape_mask(t, 0.5f);
            int both = 0, any = 0;
            for (size_t i = 0; i < mask.size(); i++)
                both += mask[i] && other[i], any += mask[i] || other[i];
            // Look-alikes are wanted (hexagon vs disc ~0.82), identical twins are not.
            EXPECT_LT(float(both) / float(any), 0.85f) << shape_name(s) << " vs " << shape_name(t);
        }
    }
    EXPECT_FALSE(shape_contains(1, 0.f, 0.f, 0.5f)); // the ring and the frame have holes
    EXPECT_FALSE(shape_contains(3, 0.f, 0.f, 0.5f));
    EXPECT_TRUE(shape_contains(0, 0.f, 0.f, 0.5f));
    EXPECT_THROW(shape_name(shape_count()), Error);
}

TEST(Synth, SceneIsAPureFunctionOfItsSeed) {
    SceneOptions o;
    o.style = Style::target;
    Scene a = render_scene(o, scene_seed(3, 1, 5)), b = render_scene(o, scene_seed(3, 1, 5));
    EXPECT_EQ(a.image.pixels, b.image.pixels);
    EXPECT_EQ(a.labels.values, b.labels.values);
    EXPECT_EQ(a.tags, b.tags);
    Scene c = render_scene(o, scene_seed(3, 1, 6));
    EXPECT_NE(a.image.pixels, c.image.pixels);
    // Seeds differ across worlds, streams and indices.
    EXPECT_NE(scene_seed(3, 1, 5), scene_seed(4, 1, 5));
    EXPECT_NE(scene_seed(3, 1, 5), scene_seed(3, 2, 5));
    EXPECT_NE(scene_seed(3, 1, 5), scene_seed(3, 1, 6));
}

TEST(Synth, TagsAreTheForegroundClassesOfTheLabels) {
    SceneOptions o;
    for (int i = 0; i < 30; i++) {
        Scene s = render_scene(o, scene_seed(0, 0, uint64_t(i)));
        std::set<int> values = foreground_values(s.labels);
        EXPECT_EQ(std::set<int>(s.tags.begin(), s.tags.end()), values) << "scene " << i;
        EXPECT_TRUE(std::is_sorted(s.tags.begin(), s.tags.end()));
        for (int32_t v : s.labels.values) EXPECT_TRUE((v >= 0 && v < o.num_classes) || v == 255);
        // Objects reported visible kept at least min_visible labelled pixels.
        for (const SceneObject& obj : s.objects) {
            if (obj.visible > 0) { EXPECT_GE(obj.visible, o.min_visible); }
        }
    }
}

// The void band only removes object pixels on the outline. With one object per scene (no
// object-object borders) every void pixel is an object pixel next to a background pixel, and
// objects under 8 px of radius keep all their pixels.
TEST(Synth, VoidBandLiesOnObjectOutlines) {
    SceneOptions o;
    o.min_objects = o.max_objects = 1;
    o.min_visible = 0;
    o.void_width = 0;
    SceneOptions banded = o;
    banded.void_width = 1;
    int h = o.height, w = o.width;
    int64_t voided = 0;
    for (int i = 0; i < 10; i++) {
        Scene plain = render_scene(o, scene_seed(1, 0, uint64_t(i)));
        Scene band = render_scene(banded, scene_seed(1, 0, uint64_t(i)));
        EXPECT_EQ(plain.image.pixels, band.image.pixels); // the band changes labels only
        const std::vector<int32_t>& a = plain.labels.values;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t p = size_t(y * w + x);
                EXPECT_NE(a[p], 255); // no band and no tiny-object voiding: no void at all
                if (band.labels.values[p] != 255) {
                    EXPECT_EQ(band.labels.values[p], a[p]);
                    continue;
                }
                voided++;
                EXPECT_NE(a[p], 0) << "void on background at " << y << "," << x;
                EXPECT_GE(band.objects[0].radius, 8.f);
                bool touches_background = false;
                for (int yy = std::max(0, y - 1); yy <= std::min(h - 1, y + 1); yy++)
                    for (int xx = std::max(0, x - 1); xx <= std::min(w - 1, x + 1); xx++)
                        touches_background = touches_background || a[size_t(yy * w + xx)] == 0;
                EXPECT_TRUE(touches_background) << y << "," << x;
            }
    }
    EXPECT_GT(voided, 100);
}

TEST(Synth, EveryClassAppearsAcrossFiftyScenes) {
    SceneOptions o;
    std::vector<int> images(size_t(o.num_classes), 0);
    for (int i = 0; i < 50; i++)
        for (int c : render_scene(o, scene_seed(2, 0, uint64_t(i))).tags) images[size_t(c)]++;
    for (int c = 1; c < o.num_classes; c++) {
        EXPECT_GE(images[size_t(c)], 8) << class_name(c); // uniform classes: ~19 of 50 images
        EXPECT_LE(images[size_t(c)], 35) << class_name(c);
    }
}

// Colour never identifies the class: over many scenes the mean colour of each class's objects stays
// close to the mean over all objects (one draw per object, ~300 per class: sd of a class mean ~4 levels; a
// colour-coded class would be ~60+ levels off). In the source style every labelled pixel has the
// colour of an object of its class, so the statistic is about what the images show.
TEST(Synth, ColourDoesNotIdentifyTheClass) {
    SceneOptions o;
    o.height = o.width = 48;
    int K = o.num_classes;
    std::vector<std::array<double, 3>> sum(size_t(K), {0, 0, 0});
    std::vector<double> count(size_t(K), 0);
    int64_t checked = 0;
    for (int i = 0; i < 600; i++) {
        Scene s = render_scene(o, scene_seed(5, 0, uint64_t(i)));
        for (const SceneObject& obj : s.objects) {
            for (int ch = 0; ch < 3; ch++) sum[size_t(obj.cls)][size_t(ch)] += obj.colour[ch];
            count[size_t(obj.cls)] += 1;
        }
        for (size_t p = 0; p < s.labels.values.size(); p++) {
            int c = s.labels.values[p];
            if (c == 0 || c == 255) continue;
            bool match = false;
            for (const SceneObject& obj : s.objects) {
                bool same = obj.cls == c;
                for (int ch = 0; ch < 3; ch++)
                    same =
                        same && std::lround(obj.colour[ch]) == s.image.pixels[3 * p + size_t(ch)];
                match = match || same;
            }
            EXPECT_TRUE(match) << "scene " << i << " pixel " << p;
            checked++;
        }
    }
    EXPECT_GT(checked, 10000);
    std::array<double, 3> all{0, 0, 0};
    double total = 0;
    for (int c = 1; c < K; c++) {
        for (int ch = 0; ch < 3; ch++) all[size_t(ch)] += sum[size_t(c)][size_t(ch)];
        total += count[size_t(c)];
    }
    for (int c = 1; c < K; c++) {
        EXPECT_GT(count[size_t(c)], 200) << class_name(c);
        for (int ch = 0; ch < 3; ch++) {
            double mean = sum[size_t(c)][size_t(ch)] / count[size_t(c)];
            EXPECT_NEAR(mean, all[size_t(ch)] / total, 20.0) << class_name(c) << " channel " << ch;
        }
    }
}

// Fraction of horizontally adjacent background pixel pairs whose colours differ: small on flat
// colours (source: only where clutter begins), almost all with texture and noise (target).
double background_roughness(Style style) {
    SceneOptions o;
    o.style = style;
    double differ = 0, n = 0;
    for (int i = 0; i < 20; i++) {
        Scene s = render_scene(o, scene_seed(9, 0, uint64_t(i)));
        for (int y = 0; y < o.height; y++)
            for (int x = 0; x + 1 < o.width; x++) {
                size_t p = size_t(y * o.width + x);
                if (s.labels.values[p] != 0 || s.labels.values[p + 1] != 0) continue;
                bool same = true;
                for (int ch = 0; ch < 3; ch++)
                    same = same && s.image.pixels[3 * p + size_t(ch)] ==
                                       s.image.pixels[3 * (p + 1) + size_t(ch)];
                differ += !same;
                n += 1;
            }
    }
    return differ / n;
}

TEST(Synth, TargetStyleIsTexturedAndNoisySourceIsFlat) {
    double source = background_roughness(Style::source),
           target = background_roughness(Style::target);
    EXPECT_LT(source, 0.1);
    EXPECT_GT(target, 0.8);
}

TEST(Synth, WorldIsByteIdenticalForASeedAndImagesIgnoreTheCount) {
    fs::path a = temp_dir("det_a"), b = temp_dir("det_b"), c = temp_dir("det_c");
    write_world(small_world(a, Layout::voc, 6, 2));
    write_world(small_world(b, Layout::voc, 6, 2));
    write_world(small_world(c, Layout::voc, 9, 3));
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(a)) {
        if (!entry.is_regular_file()) continue;
        fs::path rel = fs::relative(entry.path(), a);
        EXPECT_EQ(read_bytes(entry.path()), read_bytes(b / rel)) << rel;
        files++;
    }
    // 8 images x 3 files, ImageSets (4), splits/{train,val}.txt, splits/1/ (default for 6), tags, json
    EXPECT_EQ(files, 8 * 3 + 4 + 2 + 2 + 2);
    // Image i of a split is the same whatever the number of images generated.
    for (const char* id : {"train_000000", "train_000005", "val_000001"}) {
        EXPECT_EQ(read_bytes(a / "JPEGImages" / (std::string(id) + ".jpg")),
                  read_bytes(c / "JPEGImages" / (std::string(id) + ".jpg")));
        EXPECT_EQ(read_bytes(a / "SegmentationClass" / (std::string(id) + ".png")),
                  read_bytes(c / "SegmentationClass" / (std::string(id) + ".png")));
    }
    // Another seed, another world.
    WorldOptions other = small_world(b, Layout::voc, 6, 2);
    other.seed = 8;
    other.force = true;
    write_world(other);
    EXPECT_NE(read_bytes(a / "JPEGImages" / "train_000000.jpg"),
              read_bytes(b / "JPEGImages" / "train_000000.jpg"));
}

TEST(Synth, VocLayoutReadsBack) {
    fs::path dir = temp_dir("voc");
    WorldOptions o = small_world(dir, Layout::voc, 12, 4);
    o.splits = {2, 5};
    WorldSummary summary = write_world(o);
    std::map<std::string, std::set<int>> tags = read_tags(dir / "tags.txt");
    std::vector<std::string> train = read_lines(dir / "ImageSets/Segmentation/train.txt");
    std::vector<std::string> val = read_lines(dir / "ImageSets/Segmentation/val.txt");
    ASSERT_EQ(train.size(), 12u);
    ASSERT_EQ(val.size(), 4u);
    EXPECT_EQ(read_lines(dir / "ImageSets/Segmentation/trainval.txt").size(), 16u);
    EXPECT_EQ(read_lines(dir / "splits/val.txt"), val);
    EXPECT_EQ(tags.size(), 16u);
    int64_t labelled = 0;
    for (const std::string& id : train) {
        Image image = read_image((dir / "JPEGImages" / (id + ".jpg")).string());
        EXPECT_EQ(image.height, 40);
        EXPECT_EQ(image.width, 48);
        LabelMap palette = read_label_png((dir / "SegmentationClass" / (id + ".png")).string());
        LabelMap grey = read_label_png((dir / "SegmentationClassAug" / (id + ".png")).string());
        EXPECT_EQ(palette.values, grey.values);
        for (int32_t v : palette.values) EXPECT_TRUE(v < 9 || v == 255) << id << ": " << v;
        EXPECT_EQ(tags[id], foreground_values(palette)) << id;
        for (int32_t v : palette.values) labelled += v != 255;
    }
    // Splits: labeled + unlabeled = train, disjoint; the 2-image subset is inside the 5-image one.
    std::set<std::string> small, large;
    for (int n : {2, 5}) {
        std::vector<std::string> l = read_lines(dir / "splits" / std::to_string(n) / "labeled.txt");
        std::vector<std::string> u =
            read_lines(dir / "splits" / std::to_string(n) / "unlabeled.txt");
        EXPECT_EQ(int(l.size()), n);
        std::vector<std::string> joined = l;
        joined.insert(joined.end(), u.begin(), u.end());
        std::sort(joined.begin(), joined.end());
        EXPECT_EQ(joined, train);
        (n == 2 ? small : large) = std::set<std::string>(l.begin(), l.end());
    }
    for (const std::string& id : small) EXPECT_EQ(large.count(id), 1u) << id;
    // world.json describes the world and its statistics match the files.
    nlohmann::json j = nlohmann::json::parse(read_bytes(dir / "world.json"));
    EXPECT_EQ(j["layout"], "voc");
    EXPECT_EQ(j["num_classes"], 9);
    EXPECT_EQ(j["classes"][1]["name"], "disc");
    EXPECT_EQ(j["counts"]["train"], 12);
    EXPECT_EQ(j["splits"], nlohmann::json({2, 5}));
    int64_t stats = 0;
    for (int64_t p : summary.train.pixels) stats += p;
    EXPECT_EQ(stats, labelled);
    EXPECT_EQ(j["statistics"]["train"]["pixels"].get<std::vector<int64_t>>(), summary.train.pixels);
}

TEST(Synth, CityscapesLayoutStoresLabelIdsInCityFolders) {
    fs::path dir = temp_dir("city");
    WorldOptions o = small_world(dir, Layout::cityscapes, 5, 3);
    o.scene.num_classes = 6;
    o.splits = {2};
    o.train_ids = true;
    write_world(o);
    std::map<std::string, std::set<int>> tags = read_tags(dir / "tags.txt");
    std::vector<std::string> train = read_lines(dir / "splits/train.txt");
    ASSERT_EQ(train.size(), 5u);
    EXPECT_EQ(train[0], "leftImg8bit/train/alpha/alpha_000000_000000_leftImg8bit.png");
    EXPECT_EQ(read_lines(dir / "splits/val.txt")[1],
              "leftImg8bit/val/echo/echo_000000_000001_leftImg8bit.png");
    EXPECT_EQ(read_lines(dir / "splits/2/labeled.txt").size(), 2u);
    const std::set<int> allowed = {0, 7, 8, 11, 12, 13, 17}; // void + trainIds 0..5
    for (const std::string& entry : train) {
        // U2PL's rule: gtFine/ + entry[12:-15] + gtFine_labelIds.png.
        std::string stem = entry.substr(12, entry.size() - 12 - 15);
        LabelMap ids = read_label_png((dir / ("gtFine/" + stem + "gtFine_labelIds.png")).string());
        LabelMap train_ids =
            read_label_png((dir / ("gtFine/" + stem + "gtFine_labelTrainIds.png")).string());
        Image image = read_image((dir / entry).string());
        EXPECT_EQ(image.height, 40);
        std::set<int> present;
        for (size_t p = 0; p < ids.values.size(); p++) {
            EXPECT_EQ(allowed.count(ids.values[p]), 1u) << ids.values[p];
            EXPECT_EQ(ids.values[p], cityscapes_label_id(train_ids.values[p]));
            if (train_ids.values[p] != 0 && train_ids.values[p] != 255)
                present.insert(train_ids.values[p]);
        }
        EXPECT_EQ(tags[entry], present) << entry;
    }
    // The same seed and size give the same scenes in every layout: VOC's class map of train image
    // 3 is Cityscapes' trainId map of train image 3.
    fs::path voc_dir = temp_dir("city_voc");
    WorldOptions v = o;
    v.out_dir = voc_dir.string();
    v.layout = Layout::voc;
    write_world(v);
    EXPECT_EQ(
        read_label_png((voc_dir / "SegmentationClassAug/train_000003.png").string()).values,
        read_label_png(
            (dir / "gtFine/train/alpha/alpha_000000_000003_gtFine_labelTrainIds.png").string())
            .values);
    EXPECT_EQ(cityscapes_label_id(0), 7);
    EXPECT_EQ(cityscapes_label_id(2), 11);
    EXPECT_EQ(cityscapes_label_id(18), 33);
    EXPECT_EQ(cityscapes_label_id(255), 0);
}

TEST(Synth, GtavLayoutHasPaletteLabelIdsAndNoVal) {
    fs::path dir = temp_dir("gtav");
    WorldOptions o = small_world(dir, Layout::gtav, 3, 0);
    write_world(o);
    EXPECT_EQ(read_lines(dir / "train.txt"),
              (std::vector<std::string>{"00001.png", "00002.png", "00003.png"}));
    LabelMap ids = read_label_png((dir / "labels/00002.png").string());
    const std::set<int> allowed = {0, 7, 8, 11, 12, 13, 17, 19, 20, 21}; // void + trainIds 0..8
    for (int32_t v : ids.values) EXPECT_EQ(allowed.count(v), 1u) << v;
    EXPECT_EQ(std::count(ids.values.begin(), ids.values.end(), 7) > 0, true); // background = road
    o.num_val = 2;
    o.force = true;
    EXPECT_THROW(write_world(o), Error);
}

// The error message of write_world(o), or "" when it succeeds.
std::string write_world_error(const WorldOptions& o) {
    try {
        write_world(o);
    } catch (const Error& e) { return e.what(); }
    return "";
}

TEST(Synth, ReplacesAnEarlierWorldOnlyWhenForcedAndNeverWritesIntoOtherFolders) {
    // A folder of the user's (no world.json), e.g. a dataset: refused, --force or not.
    fs::path theirs = temp_dir("force_theirs");
    fs::create_directories(theirs);
    { std::ofstream(theirs / "notes.txt") << "mine"; }
    WorldOptions o = small_world(theirs, Layout::voc, 8, 1);
    for (bool force : {false, true}) {
        o.force = force;
        EXPECT_NE(write_world_error(o).find("is not a synthetic world (no world.json)"),
                  std::string::npos);
    }
    EXPECT_FALSE(fs::exists(theirs / "JPEGImages"));
    // An earlier world: replaced with force only, its files cleared, a file added beside kept.
    fs::path dir = temp_dir("force");
    o = small_world(dir, Layout::voc, 8, 1);
    write_world(o);
    EXPECT_TRUE(fs::exists(dir / "JPEGImages/train_000007.jpg"));
    { std::ofstream(dir / "notes.txt") << "mine"; }
    o.num_train = 4;
    o.splits = {1};
    EXPECT_NE(write_world_error(o).find("holds a synthetic world; pass --force to replace it"),
              std::string::npos);
    o.force = true;
    write_world(o);
    EXPECT_FALSE(fs::exists(dir / "JPEGImages/train_000007.jpg"));
    EXPECT_FALSE(fs::exists(dir / "splits/2"));
    EXPECT_TRUE(fs::exists(dir / "notes.txt"));
    // A world whose writing was interrupted (no world.json yet, only a world's files) is one too.
    fs::path cut = temp_dir("force_cut");
    fs::create_directories(cut / "JPEGImages");
    { std::ofstream(cut / "world.json.tmp") << "{"; }
    o = small_world(cut, Layout::voc, 4, 1);
    o.force = true;
    EXPECT_EQ(write_world_error(o), "");
    EXPECT_TRUE(fs::exists(cut / "world.json"));
}

TEST(Synth, BadOptionsAreClearErrors) {
    fs::path dir = temp_dir("bad");
    WorldOptions o = small_world(dir, Layout::voc, 4, 1);
    o.scene.num_classes = shape_count() + 2;
    EXPECT_THROW(write_world(o), Error);
    o = small_world(dir, Layout::voc, 4, 1);
    o.splits = {4}; // leaves no unlabeled image
    EXPECT_THROW(write_world(o), Error);
    EXPECT_THROW(parse_layout("coco"), Error);
    EXPECT_THROW(parse_style("cartoon"), Error);
    EXPECT_EQ(default_splits(512), (std::vector<int>{16, 32, 64, 128}));
    EXPECT_EQ(default_splits(20), (std::vector<int>{1, 2, 5}));
    EXPECT_FALSE(fs::exists(dir)); // options are checked before anything is written
}

// `pixelgrad synth` parses its options into the world it writes.
TEST(Synth, CommandLineDrivesTheWorld) {
    fs::path dir = temp_dir("cli");
    std::string out = dir.string();
    // The parsed command line runs the command; the second run finds the directory not empty.
    auto run = [&](std::vector<std::string> argv) {
        CLI::App app;
        std::function<void()> command = add_synth_command(app);
        std::reverse(argv.begin(), argv.end()); // CLI11 takes the arguments in reverse order
        app.parse(argv);
        command();
    };
    std::vector<std::string> argv = {"synth",   "--out",     out,     "--size",   "32x40",
                                     "--train", "10",        "--val", "2",        "--splits",
                                     "2,5",     "--classes", "4",     "--layout", "cityscapes"};
    testing::internal::CaptureStdout();
    run(argv);
    std::string line = testing::internal::GetCapturedStdout();
    EXPECT_NE(line.find("10 train + 2 val images (cityscapes, source, 4 classes, 32x40"),
              std::string::npos)
        << line;
    nlohmann::json j = nlohmann::json::parse(read_bytes(dir / "world.json"));
    EXPECT_EQ(j["height"], 32);
    EXPECT_EQ(j["width"], 40);
    EXPECT_EQ(j["splits"], nlohmann::json({2, 5}));
    EXPECT_EQ(j["classes"][3]["label_id"], 12); // square -> trainId 3 -> wall
    EXPECT_THROW(run(argv), Error);             // now the directory is not empty
    SynthArgs args;
    args.out = out;
    args.force = true;
    args.size = "32x";
    EXPECT_THROW(run_synth(args), Error);
}

} // namespace
} // namespace pg::seg::synth
