// Image I/O: round trips of every writer through the readers, palette PNGs read as indices, grey
// labels of 1-4 bits read as stored, 16-bit labels, and clear errors for truncated, missing,
// colour and ambiguous-palette files.
#include <cstdio>
#include <fstream>

#include "seg/data/image_io.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using test::expect_error;

std::string temp(const std::string& name) { return ::testing::TempDir() + "pg_io_" + name; }

LabelMap ramp_labels(int h, int w, int modulo) {
    LabelMap l{h, w, std::vector<int32_t>(size_t(h) * w)};
    for (size_t i = 0; i < l.values.size(); i++) l.values[i] = int32_t((i * 7) % size_t(modulo));
    return l;
}

TEST(ImageIo, PngRoundTripIsExactAndJpegIsClose) {
    Image img{5, 7, 3, std::vector<uint8_t>(5 * 7 * 3)};
    for (size_t i = 0; i < img.pixels.size(); i++) img.pixels[i] = uint8_t(i * 13);
    write_png(temp("rgb.png"), img);
    Image back = read_image(temp("rgb.png"));
    EXPECT_EQ(back.height, 5);
    EXPECT_EQ(back.width, 7);
    EXPECT_EQ(back.pixels, img.pixels);
    // Smooth content survives JPEG within a few levels.
    for (size_t i = 0; i < img.pixels.size(); i++) img.pixels[i] = uint8_t(100 + (i % 21));
    write_jpeg(temp("rgb.jpg"), img, 100);
    back = read_image(temp("rgb.jpg"));
    ASSERT_EQ(back.pixels.size(), img.pixels.size());
    for (size_t i = 0; i < img.pixels.size(); i++) EXPECT_NEAR(back.pixels[i], img.pixels[i], 12);
    // A grey PNG read as an image is RGB with equal channels.
    Image grey{2, 2, 1, {0, 50, 100, 255}};
    write_png(temp("grey.png"), grey);
    back = read_image(temp("grey.png"));
    EXPECT_EQ(back.channels, 3);
    EXPECT_EQ(back.pixels,
              (std::vector<uint8_t>{0, 0, 0, 50, 50, 50, 100, 100, 100, 255, 255, 255}));
}

TEST(ImageIo, PalettePngIsReadAsItsIndicesNotColours) {
    LabelMap labels = ramp_labels(9, 11, 21);
    labels.values[3] = 255; // VOC void
    labels.values[5] = 1;
    write_palette_png(temp("pal.png"), labels, voc_palette());
    LabelMap back = read_label_png(temp("pal.png"));
    EXPECT_EQ(back.height, 9);
    EXPECT_EQ(back.width, 11);
    EXPECT_EQ(back.values, labels.values);
    // Read as an image it shows VOC's colours: index 1 is (128, 0, 0).
    Image rgb = read_image(temp("pal.png"));
    size_t i1 = 5;
    EXPECT_EQ(rgb.pixels[3 * i1], 128);
    EXPECT_EQ(rgb.pixels[3 * i1 + 1], 0);
}

TEST(ImageIo, PaletteWithRepeatedColoursStillGivesItsIndices) {
    // Cityscapes / GTAV palettes map ids 0..4 to black: only the stored index tells them apart.
    Palette cityscapes_like = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {111, 74, 0}, {0, 0, 0}};
    LabelMap labels = ramp_labels(13, 17, 5);
    write_palette_png(temp("dup.png"), labels, cityscapes_like);
    EXPECT_EQ(read_label_png(temp("dup.png")).values, labels.values);
}

// tools/make_png_fixtures.py's label maps: 13 x 11, value (3 x + 5 y + x y) % modulo.
void expect_fixture_values(const std::string& name, int modulo) {
    const std::string path = std::string(PG_TEST_DATA_DIR) + "/" + name;
    LabelMap l = read_label_png(path);
    ASSERT_EQ(l.width, 13);
    ASSERT_EQ(l.height, 11);
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 13; x++)
            ASSERT_EQ(l.values[size_t(y) * 13 + x], (3 * x + 5 * y + x * y) % modulo)
                << path << " at (" << x << ", " << y << ")";
}

TEST(ImageIo, PaletteDecoderHandlesEveryFilterAndBitDepth) {
    // Rows cycle through the five PNG filters; 8, 4 and 2 bits.
    for (int bits : {8, 4, 2})
        expect_fixture_values("palette_" + std::to_string(bits) + "bit.png",
                              std::min(1 << bits, 21));
}

TEST(ImageIo, GreyLabelsOfFewerThan8BitsAreReadAsStored) {
    // A 1-bit binary mask holds 0 and 1, not 0 and 255 (which would be void): decoders scale such
    // samples for display, a label map's values are its classes.
    for (int bits : {4, 2, 1})
        expect_fixture_values("grey_" + std::to_string(bits) + "bit.png", 1 << bits);
}

TEST(ImageIo, GreyAnd16BitLabels) {
    LabelMap labels = ramp_labels(4, 6, 34);
    Image grey{4, 6, 1, std::vector<uint8_t>(labels.values.begin(), labels.values.end())};
    write_png(temp("ids.png"), grey);
    EXPECT_EQ(read_label_png(temp("ids.png")).values, labels.values);
    LabelMap wide = ramp_labels(3, 5, 40000);
    write_png16(temp("l16.png"), wide, 1);
    EXPECT_EQ(read_label_png(temp("l16.png")).values, wide.values);
    write_png16(temp("l16rgb.png"), labels, 3); // SYNTHIA: the id in channel 0
    EXPECT_EQ(read_label_png(temp("l16rgb.png")).values, labels.values);
}

TEST(ImageIo, BadFilesGiveErrorsNamingTheFile) {
    std::string missing = temp("does_not_exist.png");
    expect_error([&] { read_image(missing); }, missing);
    // Truncated PNG.
    write_palette_png(temp("trunc.png"), ramp_labels(16, 16, 5), voc_palette());
    std::ifstream in(temp("trunc.png"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(temp("trunc.png"), std::ios::binary)
        .write(bytes.data(), std::streamsize(bytes.size() - 30));
    expect_error([&] { read_label_png(temp("trunc.png")); }, temp("trunc.png"));
    expect_error([&] { read_image(temp("trunc.png")); }, "cannot decode");
    // Not an image at all.
    std::ofstream(temp("text.jpg")) << "hello";
    expect_error([&] { read_image(temp("text.jpg")); }, "expected a JPEG or PNG");
    expect_error([&] { read_label_png(temp("text.jpg")); }, "not a PNG");
    // An RGB PNG is not a label map.
    write_png(temp("rgb_label.png"), Image{2, 2, 3, std::vector<uint8_t>(12, 7)});
    expect_error([&] { read_label_png(temp("rgb_label.png")); }, "not a label map");
    // A header claiming a huge image is refused before decoding (found by `make fuzz`: a
    // 42000 x 4112 JPEG header decoded for minutes; a 2^31-wide palette PNG allocated 4 GiB).
    std::string png = bytes;
    png.replace(16, 8, std::string("\x00\x01\x00\x00\x00\x01\x00\x00", 8)); // 65536 x 65536
    std::ofstream(temp("huge.png"), std::ios::binary) << png;
    expect_error([&] { read_label_png(temp("huge.png")); }, "claims 65536 x 65536 pixels");
    // A JPEG Huffman table with more than 256 codes, which stb 2.27 would write past its arrays
    // (found by `make fuzz`): refused before stb reads it. Counts 200 + 100 at lengths 15 and 16.
    std::string jpeg("\xFF\xD8\xFF\xC4", 4);
    std::string dht(1, '\x00'); // class 0, table 0
    for (int length = 1; length <= 16; length++)
        dht += char(length == 15 ? 200 : length == 16 ? 100 : 0);
    dht += std::string(300, '\x01');
    const size_t segment = dht.size() + 2;
    jpeg += char(segment >> 8);
    jpeg += char(segment & 0xFF);
    jpeg += dht + std::string("\xFF\xD9", 2);
    std::ofstream(temp("bad_dht.jpg"), std::ios::binary) << jpeg;
    expect_error([&] { read_image(temp("bad_dht.jpg")); }, "a Huffman table declares 300 codes");
    // A scan that uses a Huffman table the file never defined (stb 2.27 reads uninitialised
    // memory as the table; found by `make fuzz`): a real JPEG with its second component's AC
    // table switched to 3.
    write_jpeg(temp("good.jpg"), Image{8, 8, 3, std::vector<uint8_t>(192, 90)});
    std::ifstream jin(temp("good.jpg"), std::ios::binary);
    std::string good((std::istreambuf_iterator<char>(jin)), std::istreambuf_iterator<char>());
    const size_t sos = good.find("\xFF\xDA");
    ASSERT_NE(sos, std::string::npos);
    ASSERT_EQ(uint8_t(good[sos + 4]), 3); // three components: (id, DC << 4 | AC) each
    std::string undefined_table = good;
    undefined_table[sos + 8] = char((uint8_t(good[sos + 8]) & 0xF0) | 3);
    std::ofstream(temp("undefined_table.jpg"), std::ios::binary) << undefined_table;
    expect_error([&] { read_image(temp("undefined_table.jpg")); },
                 "uses Huffman table AC 3, which the file does not define");
    EXPECT_EQ(read_image(temp("good.jpg")).width, 8); // the check passes a real JPEG
    // Writers check their input.
    Palette dup = {{0, 0, 0}, {10, 10, 10}, {10, 10, 10}};
    expect_error(
        [&] {
            write_palette_png(temp("x.png"), LabelMap{1, 1, {3}}, dup);
        },
        "no palette entry");
}

} // namespace
} // namespace pg::seg
