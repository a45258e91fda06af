// Dataset readers on tiny datasets written in each real layout: VOC (palette and Aug labels,
// ImageSets, U2PL splits, DeepLab-style lists), Cityscapes (labelIds with city folders, trainIds,
// U2PL lists), GTAV (palette labelIds), SYNTHIA (16-bit RGB), generic; broken and missing files.
#include "seg/data/dataset.h"
#include "tests/seg/data_fixtures.h"

namespace pg::seg {
namespace {

using fixture::cycle_labels;
using fixture::expect_error;
using fixture::test_image;
using fixture::write_grey_label;
using fixture::write_image_png;
using fixture::write_palette_label;
using fixture::write_text;

// VOC: 3 ids; SegmentationClass (palette) holds values `cls`, SegmentationClassAug (grey) `aug`.
const std::vector<int32_t> kVocClass = {0, 1, 15, 20, 255};
const std::vector<int32_t> kVocAug = {3, 4, 255};

std::string write_voc(const std::string& name, bool with_aug) {
    std::string root = fixture::fresh_dir(name);
    const char* ids[] = {"2007_000032", "2007_000033", "2008_000001"};
    for (int k = 0; k < 3; k++) {
        std::string id = ids[k];
        fixture::make_parent(root + "/JPEGImages/x");
        write_jpeg(root + "/JPEGImages/" + id + ".jpg", test_image(6, 8, k), 95);
        write_palette_label(root + "/SegmentationClass/" + id + ".png",
                            cycle_labels(6, 8, kVocClass));
        if (with_aug)
            write_grey_label(root + "/SegmentationClassAug/" + id + ".png",
                             cycle_labels(6, 8, kVocAug));
    }
    write_text(root + "/ImageSets/Segmentation/train.txt",
               "2007_000032\n2007_000033\n\n2008_000001\n");
    write_text(root + "/ImageSets/Segmentation/val.txt", "2008_000001\n");
    write_text(root + "/splits/2/labeled.txt", "2007_000033\n2008_000001\n");
    write_text(root + "/splits/2/unlabeled.txt", "2007_000032\n");
    return root;
}

TEST(Dataset, VocPrefersAugLabelsAndReadsPaletteIndices) {
    std::string root = write_voc("voc", /*with_aug=*/true);
    Dataset aug = open_voc({root, "train", "", "", 21, {}});
    ASSERT_EQ(aug.size(), 3);
    EXPECT_EQ(aug.num_classes(), 21);
    EXPECT_EQ(aug.id(0), "2007_000032");
    EXPECT_EQ(aug.id(2), "2008_000001");
    Sample s = aug.load(1);
    EXPECT_EQ(s.id, "2007_000033");
    EXPECT_EQ(s.image.height, 6);
    EXPECT_EQ(s.image.width, 8);
    EXPECT_EQ(s.image.channels, 3);
    EXPECT_NEAR(s.image.pixels[0], 70, 6); // test_image(6, 8, 1) at (0, 0, R), through JPEG
    EXPECT_EQ(s.label.values, cycle_labels(6, 8, kVocAug).values);
    // Asking for SegmentationClass reads the palette PNG's indices, 255 included.
    Dataset cls = open_voc({root, "val", "", "SegmentationClass", 21, {}});
    ASSERT_EQ(cls.size(), 1);
    EXPECT_EQ(cls.load(0).label.values, cycle_labels(6, 8, kVocClass).values);
    // Without an Aug folder the default falls back to SegmentationClass.
    std::string plain = write_voc("voc_plain", /*with_aug=*/false);
    EXPECT_EQ(open_voc({plain, "train", "", "", 21, {}}).load(0).label.values,
              cycle_labels(6, 8, kVocClass).values);
}

TEST(Dataset, VocU2plSplitsUnlabeledAndDeepLabLists) {
    std::string root = write_voc("voc_splits", true);
    Dataset labeled = open_voc({root, "", "splits/2/labeled.txt", "", 21, {}});
    ASSERT_EQ(labeled.size(), 2);
    EXPECT_EQ(labeled.id(0), "2007_000033");
    VocConfig unl{root, "", "splits/2/unlabeled.txt", "", 21, {}};
    unl.options.labeled = false;
    Dataset unlabeled = open_voc(unl);
    EXPECT_FALSE(unlabeled.labeled());
    Sample s = unlabeled.load(0);
    EXPECT_EQ(s.id, "2007_000032");
    EXPECT_EQ(s.label.height, 0);
    EXPECT_TRUE(s.label.values.empty());
    // A subset in a given order, and the labels dropped.
    Dataset picked = labeled.subset({1, 0, 1});
    ASSERT_EQ(picked.size(), 3);
    EXPECT_EQ(picked.id(0), "2008_000001");
    EXPECT_EQ(picked.id(1), "2007_000033");
    EXPECT_TRUE(picked.labeled());
    EXPECT_EQ(picked.load(0).label.values, cycle_labels(6, 8, kVocAug).values);
    Dataset images_only = picked.without_labels();
    EXPECT_FALSE(images_only.labeled());
    EXPECT_EQ(images_only.load(1).label.height, 0);
    fixture::expect_error([&] { labeled.subset({2}); }, {"example 2 out of range"});
    // "train_aug" at the root, and a DeepLab-style "image label" list with leading slashes.
    write_text(root + "/train_aug.txt",
               "/JPEGImages/2008_000001.jpg /SegmentationClass/2008_000001.png\n");
    Dataset pairs = open_voc({root, "train_aug", "", "", 21, {}});
    ASSERT_EQ(pairs.size(), 1);
    EXPECT_EQ(pairs.id(0), "2008_000001");
    EXPECT_EQ(pairs.load(0).label.values, cycle_labels(6, 8, kVocClass).values);
}

// Cityscapes: two cities, labelIds and labelTrainIds for each image.
const std::vector<int32_t> kCityIds = {0, 7, 8, 26, 33, 255, 3, 24};
const std::vector<int32_t> kCityTrain = {255, 0, 1, 13, 18, 255, 255, 11};

std::string write_cityscapes(const std::string& name) {
    std::string root = fixture::fresh_dir(name);
    const char* names[] = {"bremen/bremen_000000_000019", "aachen/aachen_000001_000019",
                           "aachen/aachen_000000_000019"};
    for (int k = 0; k < 3; k++) {
        std::string n = names[k];
        write_image_png(root + "/leftImg8bit/train/" + n + "_leftImg8bit.png", test_image(4, 8, k));
        write_grey_label(root + "/gtFine/train/" + n + "_gtFine_labelIds.png",
                         cycle_labels(4, 8, kCityIds));
        write_grey_label(root + "/gtFine/train/" + n + "_gtFine_labelTrainIds.png",
                         cycle_labels(4, 8, kCityTrain));
    }
    write_text(root + "/splits/1/labeled.txt",
               "leftImg8bit/train/bremen/bremen_000000_000019_leftImg8bit.png\n");
    return root;
}

TEST(Dataset, CityscapesMapsLabelIdsToTrainIds) {
    std::string root = write_cityscapes("city");
    Dataset scan = open_cityscapes({root, "train", "", false, {}});
    ASSERT_EQ(scan.size(), 3);
    EXPECT_EQ(scan.num_classes(), 19);
    // Cities in order, names sorted within a city.
    EXPECT_EQ(scan.id(0), "aachen_000000_000019");
    EXPECT_EQ(scan.id(1), "aachen_000001_000019");
    EXPECT_EQ(scan.id(2), "bremen_000000_000019");
    Sample s = scan.load(2);
    EXPECT_EQ(s.image.pixels, test_image(4, 8, 0).pixels); // PNG: exact
    EXPECT_EQ(s.label.values, cycle_labels(4, 8, kCityTrain).values);
    // _labelTrainIds.png read as is; a U2PL list of image paths relative to the root.
    Dataset train_ids = open_cityscapes({root, "train", "splits/1/labeled.txt", true, {}});
    ASSERT_EQ(train_ids.size(), 1);
    EXPECT_EQ(train_ids.id(0), "bremen_000000_000019");
    EXPECT_EQ(train_ids.load(0).label.values, cycle_labels(4, 8, kCityTrain).values);
    // A list line that is not a leftImg8bit path is an error naming the line.
    write_text(root + "/bad.txt", "images/bremen.png\n");
    expect_error(
        [&] {
            open_cityscapes({root, "train", "bad.txt", false, {}});
        },
        {"images/bremen.png", "leftImg8bit"});
    // A two-column list's label of the other kind than train_ids says: every trainId is also a
    // labelId, so it would be read silently wrong.
    const std::string image = "leftImg8bit/train/bremen/bremen_000000_000019_leftImg8bit.png ";
    write_text(root + "/tid.txt",
               image + "gtFine/train/bremen/bremen_000000_000019_gtFine_labelTrainIds.png\n");
    expect_error(
        [&] {
            open_cityscapes({root, "train", "tid.txt", false, {}});
        },
        {"tid.txt", "labelTrainIds.png is a trainIds file, but dataset.train_ids is false"});
    EXPECT_EQ(open_cityscapes({root, "train", "tid.txt", true, {}}).load(0).label.values,
              cycle_labels(4, 8, kCityTrain).values);
    write_text(root + "/ids.txt",
               image + "gtFine/train/bremen/bremen_000000_000019_gtFine_labelIds.png\n");
    expect_error(
        [&] {
            open_cityscapes({root, "train", "ids.txt", true, {}});
        },
        {"labelIds.png is a labelIds file, but dataset.train_ids is true"});
}

TEST(Dataset, GtavPaletteAndSynthia16Bit) {
    std::string gtav = fixture::fresh_dir("gtav");
    for (int k = 1; k <= 2; k++) {
        char file[16];
        std::snprintf(file, sizeof(file), "%05d.png", k);
        write_image_png(gtav + "/images/" + file, test_image(5, 7, k));
        write_palette_label(gtav + "/labels/" + file, cycle_labels(5, 7, kCityIds));
    }
    Dataset g = open_gtav({gtav, "", {}});
    ASSERT_EQ(g.size(), 2);
    EXPECT_EQ(g.id(0), "00001");
    EXPECT_EQ(g.load(1).label.values, cycle_labels(5, 7, kCityTrain).values);
    write_text(gtav + "/list.txt", "00002.png\n00001\n");
    Dataset listed = open_gtav({gtav, "list.txt", {}});
    EXPECT_EQ(listed.id(0), "00002");
    EXPECT_EQ(listed.id(1), "00001");

    std::string synthia = fixture::fresh_dir("synthia");
    // SYNTHIA ids -> 16 classes: 3 road 0, 4 sidewalk 1, 21 wall 3, 1 sky 9, 11 bicycle 15,
    // 0 void, 13 parking-slot and 22 lanemarking -> 255.
    const std::vector<int32_t> ids = {3, 4, 21, 1, 11, 0, 13, 22};
    const std::vector<int32_t> classes = {0, 1, 3, 9, 15, 255, 255, 255};
    write_image_png(synthia + "/RGB/0000000.png", test_image(3, 8, 0));
    fixture::make_parent(synthia + "/GT/LABELS/x");
    write_png16(synthia + "/GT/LABELS/0000000.png", cycle_labels(3, 8, ids), 3);
    Dataset syn = open_synthia({synthia, "", {}});
    ASSERT_EQ(syn.size(), 1);
    EXPECT_EQ(syn.num_classes(), 16);
    EXPECT_EQ(syn.load(0).label.values, cycle_labels(3, 8, classes).values);
    // A SYNTHIA id outside 0..22 is unknown.
    write_png16(synthia + "/GT/LABELS/0000000.png", cycle_labels(3, 8, {3, 300}), 3);
    expect_error([&] { syn.load(0); }, {"0000000.png", "value 300", "SYNTHIA"});
}

TEST(Dataset, GenericLayoutScanListAndTable) {
    std::string root = fixture::fresh_dir("generic");
    auto ids = fixture::write_generic(root, 3, 4, 5, 3);
    GenericConfig c;
    c.root = root;
    c.image_ext = ".png";
    c.num_classes = 3;
    Dataset scan = open_generic(c);
    ASSERT_EQ(scan.size(), 3);
    EXPECT_EQ(scan.id(1), "ex1");
    EXPECT_EQ(scan.load(1).label.values, cycle_labels(4, 5, {1, 2, 0}).values);
    c.list = "list.txt";
    EXPECT_EQ(open_generic(c).size(), 3);
    // A value table: stored 0 -> 255, 1 -> 0, 2 -> 1.
    c.label_table = {255, 0, 1};
    c.num_classes = 2;
    EXPECT_EQ(open_generic(c).load(0).label.values, cycle_labels(4, 5, {255, 0, 1}).values);
    c.label_table = {0, 7};
    expect_error([&] { open_generic(c); }, {"label_table[1] = 7"});
}

TEST(Dataset, MissingPairsAreSkippedWithWarningsAndACount) {
    std::string root = write_voc("voc_missing", true);
    write_text(root + "/ImageSets/Segmentation/train.txt",
               "2007_000032\nnot_there\n2007_000033\n2008_000001\n");
    std::filesystem::remove(root + "/SegmentationClassAug/2007_000033.png");
    std::vector<std::string> warnings;
    VocConfig c{root, "train", "", "", 21, {}};
    c.options.warn = [&](const std::string& line) { warnings.push_back(line); };
    Dataset d = open_voc(c);
    ASSERT_EQ(d.size(), 2);
    EXPECT_EQ(d.skipped(), 2);
    EXPECT_EQ(d.id(1), "2008_000001");
    EXPECT_EQ(d.load(1).label.height, 6); // the others still load
    ASSERT_EQ(warnings.size(), 3u);
    EXPECT_NE(warnings[0].find("JPEGImages/not_there.jpg"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[1].find("SegmentationClassAug/2007_000033.png"), std::string::npos)
        << warnings[1];
    EXPECT_NE(warnings[2].find("skipped 2 of 4"), std::string::npos) << warnings[2];
    // Unlabeled: a missing label does not matter.
    c.options.labeled = false;
    warnings.clear();
    EXPECT_EQ(open_voc(c).size(), 3);
    // A byte-order mark (Notepad's) and CRLF endings are not part of the ids; a line listed again
    // is used as often as listed, with a warning.
    write_text(root + "/ImageSets/Segmentation/train.txt",
               "\xEF\xBB\xBF"
               "2007_000032\r\n2008_000001\r\n\r\n2007_000032\r\n");
    c.options.labeled = true;
    warnings.clear();
    Dataset listed = open_voc(c);
    ASSERT_EQ(listed.size(), 3);
    EXPECT_EQ(listed.id(0), "2007_000032");
    EXPECT_EQ(listed.id(2), "2007_000032");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("lists 1 line(s) again, each used as often as listed (line 4 "
                               "repeats line 1 ('2007_000032'))"),
              std::string::npos)
        << warnings[0];
    // Nothing usable, an empty split, a missing list or root: errors naming them.
    write_text(root + "/ImageSets/Segmentation/gone.txt", "a\nb\n");
    VocConfig gone{root, "gone", "", "", 21, {}};
    gone.options.warn = [](const std::string&) {};
    expect_error([&] { open_voc(gone); }, {"no usable examples", "gone.txt", "all 2"});
    write_text(root + "/ImageSets/Segmentation/empty.txt", "\n\n");
    expect_error([&] { open_voc({root, "empty", "", "", 21, {}}); }, {"empty.txt", "empty"});
    expect_error([&] { open_voc({root, "nope", "", "", 21, {}}); }, {"split 'nope'", "nope.txt"});
    expect_error(
        [&] {
            open_voc({root + "/absent", "train", "", "", 21, {}});
        },
        {root + "/absent", "not a folder"});
    expect_error(
        [&] {
            open_cityscapes({root, "train", "", false, {}});
        },
        {"leftImg8bit/train", "does not exist"});
}

TEST(Dataset, BrokenFilesGiveErrorsNamingThem) {
    std::string root = write_voc("voc_broken", true);
    Dataset d = open_voc({root, "train", "", "", 21, {}});
    // Truncated image.
    std::string jpg = root + "/JPEGImages/2007_000032.jpg";
    fixture::truncate_file(jpg, 60);
    expect_error([&] { d.load(0); }, {jpg, "cannot decode"});
    // Label of the wrong size: both files named.
    std::string label = root + "/SegmentationClassAug/2007_000033.png";
    write_grey_label(label, cycle_labels(6, 7, {0}));
    expect_error([&] { d.load(1); }, {label, "2007_000033.jpg", "6x7", "6x8"});
    // ... or resized to the image when asked (nearest).
    VocConfig lenient{root, "train", "", "", 21, {}};
    lenient.options.resize_mismatched_labels = true;
    EXPECT_EQ(open_voc(lenient).load(1).label.width, 8);
    // Unknown VOC value 37: file, value and position.
    std::string label2 = root + "/SegmentationClassAug/2008_000001.png";
    write_grey_label(label2, cycle_labels(6, 8, {0, 37}));
    expect_error([&] { d.load(2); }, {label2, "value 37", "(y=0, x=1)", "VOC class"});
    // Non-strict: unknown values become 255.
    lenient.options.strict_labels = false;
    EXPECT_EQ(open_voc(lenient).load(2).label.values, cycle_labels(6, 8, {0, 255}).values);
    // Cityscapes: id 40 is not a labelId.
    std::string city = write_cityscapes("city_broken");
    std::string ids = city + "/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png";
    write_grey_label(ids, cycle_labels(4, 8, {7, 40}));
    expect_error(
        [&] {
            open_cityscapes({city, "train", "", false, {}}).load(0);
        },
        {ids, "value 40", "Cityscapes labelId"});
}

TEST(Dataset, LabelMappings) {
    LabelMapping m = cityscapes_label_id_mapping();
    LabelMap l{1, 6, {7, 33, 0, 255, 34, 19}};
    map_labels(l, m, /*strict=*/false, "x.png");
    EXPECT_EQ(l.values, (std::vector<int32_t>{0, 18, 255, 255, 255, 6}));
    LabelMap bad{1, 1, {-3}};
    expect_error([&] { map_labels(bad, m, true, "x.png"); }, {"x.png", "value -3"});
    // Every one of the 19 train ids comes from exactly one labelId.
    std::vector<int> hits(19, 0);
    for (int32_t t : m.table)
        if (t >= 0 && t < 19) hits[size_t(t)]++;
    EXPECT_EQ(hits, std::vector<int>(19, 1));
}

TEST(Dataset, CityscapesOnSynthiasSixteenClasses) {
    // labelIds -> trainIds -> SYNTHIA's 16: road 7 -> 0, terrain 22 -> 255, sky 23 -> 9,
    // truck 27 -> 255, bus 28 -> 13, train 31 -> 255, bicycle 33 -> 15; voids stay 255.
    LabelMapping m = to_synthia_classes(cityscapes_label_id_mapping());
    EXPECT_EQ(m.num_classes, 16);
    std::vector<std::pair<int, int>> pairs{{7, 0},   {8, 1},    {22, 255}, {23, 9},
                                           {24, 10}, {27, 255}, {28, 13},  {31, 255},
                                           {32, 14}, {33, 15},  {0, 255},  {255, 255}};
    for (auto [id, want] : pairs) EXPECT_EQ(m.table[size_t(id)], want) << "labelId " << id;
    EXPECT_EQ(m.table[40], kUnknownLabel);
}

} // namespace
} // namespace pg::seg
