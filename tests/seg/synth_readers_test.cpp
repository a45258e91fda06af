// The synthetic world through the real dataset readers: every sample of a VOC, Cityscapes and GTAV
// layout written by `synth` loads, has labels in range, and its label values match tags.txt.
#include <fstream>
#include <set>
#include <sstream>

#include "seg/data/dataset.h"
#include "seg/synth/world.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

synth::WorldOptions small_world(const std::string& name, synth::Layout layout) {
    synth::WorldOptions o;
    o.out_dir = ::testing::TempDir() + "pg_synth_readers_" + name;
    o.layout = layout;
    o.num_train = 12;
    o.num_val = layout == synth::Layout::gtav ? 0 : 4;
    o.splits = {3};
    o.force = true;
    o.seed = 5;
    return o;
}

std::set<int32_t> classes_present(const Sample& s) {
    std::set<int32_t> present;
    for (int32_t v : s.label.values)
        if (v != 0 && v != 255) present.insert(v);
    return present;
}

void expect_all_load(const Dataset& d, int64_t expected_size) {
    ASSERT_EQ(d.size(), expected_size);
    for (int64_t i = 0; i < d.size(); i++) {
        Sample s = d.load(i);
        ASSERT_EQ(s.label.height, s.image.height);
        for (int32_t v : s.label.values) ASSERT_TRUE(v == 255 || (v >= 0 && v < 9)) << v;
    }
}

TEST(SynthReaders, VocLayoutLoadsAndMatchesTags) {
    synth::WorldOptions o = small_world("voc", synth::Layout::voc);
    synth::write_world(o);
    VocConfig labeled{o.out_dir, "train", "splits/3/labeled.txt", "", 21, {}};
    expect_all_load(open_voc(labeled), 3);
    VocConfig train{o.out_dir, "train", "", "SegmentationClass", 21, {}};
    Dataset d = open_voc(train);
    expect_all_load(d, 12);
    // tags.txt: "<id> c1 c2 ..." for every train image, in list order.
    std::ifstream tags(o.out_dir + "/tags.txt");
    std::string line;
    int64_t i = 0;
    while (std::getline(tags, line) && i < d.size()) {
        std::istringstream in(line);
        std::string id;
        in >> id;
        std::set<int32_t> listed;
        for (int32_t c; in >> c;) listed.insert(c);
        Sample s = d.load(i++);
        EXPECT_EQ(s.id, id);
        EXPECT_EQ(classes_present(s), listed) << id;
    }
    EXPECT_EQ(i, 12);
}

TEST(SynthReaders, CityscapesAndGtavLayoutsLoad) {
    synth::WorldOptions c = small_world("cityscapes", synth::Layout::cityscapes);
    synth::write_world(c);
    expect_all_load(open_cityscapes(CityscapesConfig{c.out_dir, "train", "", false, {}}), 12);
    expect_all_load(open_cityscapes(CityscapesConfig{c.out_dir, "val", "", false, {}}), 4);
    synth::WorldOptions g = small_world("gtav", synth::Layout::gtav);
    synth::write_world(g);
    expect_all_load(open_gtav(GtavConfig{g.out_dir, "", {}}), 12);
}

} // namespace
} // namespace pg::seg
