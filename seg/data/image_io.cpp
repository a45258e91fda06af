// Image I/O (seg/data/image_io.h). Decoding: stb_image. Palette and 16-bit PNGs are written here
// chunk by chunk (stb_image_write writes neither) with stb's zlib compressor.
#include "seg/data/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

#include "tensor/error.h"
#include "tensor/file_io.h"

// Defined in Debian's libstb (stb_image_write.c) but not declared in its header.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len,
                                             int quality);

namespace pg::seg {

static std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    PG_CHECK(in.good(), path, ": cannot open the file");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

static uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// The facts about a PNG that stb_image does not report: colour type, bit depth, PLTE and tRNS.
struct PngHeader {
    int64_t width = 0, height = 0;
    int color_type = -1, bit_depth = 0, interlace = 0;
    std::string idat; // the concatenated compressed image data
};

static bool is_png(const std::string& bytes) {
    return bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0;
}

// A header may claim any size; decoding a claimed 42000 x 4112 image from a few hundred bytes took
// minutes (found by `make fuzz`). 2^26 pixels (8192 x 8192) is far above any dataset here.
constexpr int64_t kMaxPixels = int64_t(1) << 26;

static void check_image_size(const std::string& path, int64_t width, int64_t height) {
    // Divided, not multiplied: two 32-bit sizes overflow a product (found by `make fuzz`).
    PG_CHECK(width >= 1 && height >= 1 && width <= kMaxPixels && height <= kMaxPixels / width, path,
             ": the image claims ", width, " x ", height, " pixels; expected 1 to ", kMaxPixels,
             " pixels (a corrupt header, or an image to downscale first)");
}

// stb_image 2.27 (Debian's libstb) trusts two things of a JPEG that `make fuzz` broke: the 16 code
// counts of a Huffman table (DHT; more than the 256 symbols a table holds write past its arrays)
// and that a scan (SOS) only uses tables the file defined (an undefined one is uninitialised
// memory, read as decoding tables; stb 2.28 bounds the symbol index). Both are checked before stb
// sees the file. Markers are found as libjpeg does: 0xFF then a byte other than 0x00 (a stuffed
// 0xFF in entropy-coded data), 0xFF (fill) or RSTn / TEM (no length field); any other marker is
// followed by its 16-bit length.
static void check_jpeg_huffman_tables(const std::string& bytes, const std::string& path) {
    const uint8_t* b = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t size = bytes.size();
    if (size < 2 || b[0] != 0xFF || b[1] != 0xD8) return; // not a JPEG: stb decides
    bool defined[2][16] = {};                             // [DC 0 / AC 1][table id]
    size_t i = 2;
    while (i + 4 <= size) {
        const uint8_t marker = b[i + 1];
        if (b[i] != 0xFF || marker == 0xFF) { // entropy-coded data, or fill bytes
            i++;
            continue;
        }
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            i += 2;
            continue;
        }
        if (marker == 0xD9) return; // end of image
        const size_t end = std::min(size, i + 2 + (size_t(b[i + 2]) << 8 | b[i + 3]));
        if (marker == 0xC4) // DHT: tables of (class << 4 | id, 16 counts, the symbols)
            for (size_t t = i + 4; t + 17 <= end;) {
                int codes = 0;
                for (size_t k = 1; k <= 16; k++) codes += b[t + k];
                PG_CHECK(codes <= 256, path, ": corrupt JPEG: a Huffman table declares ", codes,
                         " codes; a table holds at most 256");
                defined[(b[t] >> 4) & 1][b[t] & 15] = true;
                t += 17 + size_t(codes);
            }
        if (marker == 0xDA &&
            i + 5 <= end) { // SOS: n, n x (component, DC << 4 | AC), Ss, Se, Ah|Al
            const size_t n = b[i + 4], after = i + 5 + 2 * n;
            const bool dc_first = after + 3 <= end && b[after] == 0 && (b[after + 2] >> 4) == 0;
            const bool ac = after + 3 <= end && b[after + 1] > 0;
            for (size_t k = 0; k < n && i + 7 + 2 * k <= end; k++) {
                const int dc_table = b[i + 6 + 2 * k] >> 4, ac_table = b[i + 6 + 2 * k] & 15;
                PG_CHECK(!dc_first || defined[0][dc_table], path,
                         ": corrupt JPEG: a scan uses Huffman table DC ", dc_table,
                         ", which the file does not define before it");
                PG_CHECK(!ac || defined[1][ac_table], path,
                         ": corrupt JPEG: a scan uses Huffman table AC ", ac_table,
                         ", which the file does not define before it");
            }
        }
        i = end;
    }
}

static PngHeader parse_png_header(const std::string& bytes, const std::string& path) {
    PngHeader h;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t pos = 8;
    while (pos + 8 <= bytes.size()) {
        uint32_t length = be32(p + pos);
        std::string type = bytes.substr(pos + 4, 4);
        PG_CHECK(pos + 12 + length <= bytes.size(), path, ": PNG chunk '", type,
                 "' runs past the end of the file (truncated?)");
        const uint8_t* data = p + pos + 8;
        if (type == "IHDR" && length >= 13) {
            h.width = int64_t(be32(data));
            h.height = int64_t(be32(data + 4));
            h.bit_depth = data[8];
            h.color_type = data[9];
            h.interlace = data[12];
        } else if (type == "IDAT") {
            h.idat.append(reinterpret_cast<const char*>(data), length);
        } else if (type == "IEND") {
            break;
        }
        pos += 12 + length;
    }
    PG_CHECK(h.color_type >= 0, path, ": PNG without an IHDR chunk");
    check_image_size(path, h.width, h.height);
    return h;
}

using StbPixels = std::unique_ptr<void, void (*)(void*)>;

Image read_image(const std::string& path) {
    std::string bytes = read_file(path);
    check_jpeg_huffman_tables(bytes, path);
    int w = 0, h = 0, c = 0;
    if (stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &w,
                              &h, &c))
        check_image_size(path, w, h);
    StbPixels data(stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                         int(bytes.size()), &w, &h, &c, 3),
                   stbi_image_free);
    PG_CHECK(data != nullptr, path, ": cannot decode the image (", stbi_failure_reason(),
             "); expected a JPEG or PNG file");
    Image image{h, w, 3, {}};
    const uint8_t* px = static_cast<const uint8_t*>(data.get());
    image.pixels.assign(px, px + size_t(w) * h * 3);
    return image;
}

// PNG's Paeth predictor: the neighbour (left a, up b, up-left c) closest to a + b - c.
static uint8_t paeth(int a, int b, int c) {
    int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Palette PNG: the stored indices themselves, decoded here (inflate, undo each row's filter, unpack
// 1/2/4/8-bit samples). stb_image would expand them to colours, and real palettes repeat colours
// (Cityscapes' ids 0..4 are all black), so colours cannot be mapped back.
static LabelMap palette_indices(const PngHeader& h, const std::string& path) {
    PG_CHECK(h.interlace == 0, path,
             ": interlaced palette PNGs are not supported; re-save the "
             "labels without interlacing");
    PG_CHECK(h.bit_depth == 1 || h.bit_depth == 2 || h.bit_depth == 4 || h.bit_depth == 8, path,
             ": palette PNG with bit depth ", h.bit_depth);
    int raw_len = 0;
    std::unique_ptr<char, void (*)(void*)> raw(
        stbi_zlib_decode_malloc(h.idat.data(), int(h.idat.size()), &raw_len), stbi_image_free);
    const size_t row_bytes = (size_t(h.width) * size_t(h.bit_depth) + 7) / 8;
    PG_CHECK(raw != nullptr && size_t(raw_len) >= (row_bytes + 1) * size_t(h.height), path,
             ": the image data of the palette PNG is corrupt or truncated");
    const uint8_t* in = reinterpret_cast<const uint8_t*>(raw.get());
    std::vector<uint8_t> prev(row_bytes, 0), row(row_bytes);
    LabelMap labels{int(h.height), int(h.width), std::vector<int32_t>(size_t(h.width * h.height))};
    for (int y = 0; y < h.height; y++) {
        const uint8_t* src = in + size_t(y) * (row_bytes + 1);
        int filter = src[0];
        PG_CHECK(filter <= 4, path, ": row ", y, " has unknown PNG filter ", filter);
        for (size_t i = 0; i < row_bytes; i++) {
            int a = i > 0 ? row[i - 1] : 0, b = prev[i], c = i > 0 ? prev[i - 1] : 0;
            int predicted = filter == 0   ? 0
                            : filter == 1 ? a
                            : filter == 2 ? b
                            : filter == 3 ? (a + b) / 2
                                          : paeth(a, b, c);
            row[i] = uint8_t(src[1 + i] + predicted);
        }
        const int per_byte = 8 / h.bit_depth, mask = (1 << h.bit_depth) - 1;
        for (int x = 0; x < h.width; x++) {
            int shift = 8 - h.bit_depth * (x % per_byte + 1);
            labels.values[size_t(y) * h.width + x] = (row[size_t(x / per_byte)] >> shift) & mask;
        }
        std::swap(prev, row);
    }
    return labels;
}

LabelMap read_label_png(const std::string& path) {
    std::string bytes = read_file(path);
    PG_CHECK(is_png(bytes), path, ": not a PNG file (label maps must be PNG)");
    PngHeader header = parse_png_header(bytes, path);
    if (header.color_type == 3) return palette_indices(header, path);
    bool grey = header.color_type == 0 || header.color_type == 4;
    PG_CHECK(grey || header.bit_depth == 16, path, ": an 8-bit colour PNG (colour type ",
             header.color_type, ") is not a label map; expected palette, grey or 16-bit");
    int w = 0, h = 0, c = 0;
    LabelMap labels;
    const stbi_uc* raw = reinterpret_cast<const stbi_uc*>(bytes.data());
    if (header.bit_depth == 16) {
        StbPixels data(stbi_load_16_from_memory(raw, int(bytes.size()), &w, &h, &c, 0),
                       stbi_image_free);
        PG_CHECK(data != nullptr, path, ": cannot decode the 16-bit PNG (", stbi_failure_reason(),
                 ")");
        const uint16_t* px = static_cast<const uint16_t*>(data.get());
        labels = {h, w, std::vector<int32_t>(size_t(w) * h)};
        for (size_t i = 0; i < labels.values.size(); i++) labels.values[i] = px[i * size_t(c)];
    } else {
        StbPixels data(stbi_load_from_memory(raw, int(bytes.size()), &w, &h, &c, 1),
                       stbi_image_free);
        PG_CHECK(data != nullptr, path, ": cannot decode the PNG (", stbi_failure_reason(), ")");
        const uint8_t* px = static_cast<const uint8_t*>(data.get());
        labels = {h, w, std::vector<int32_t>(px, px + size_t(w) * h)};
        // stb scales grey samples of 1, 2 or 4 bits to 0..255 (x 255, 85, 17), as for a picture;
        // a label map's stored values are its classes (a binary mask's 0 and 1).
        if (header.bit_depth < 8) {
            const int scale = 255 / ((1 << header.bit_depth) - 1);
            for (int32_t& v : labels.values) v /= scale;
        }
    }
    return labels;
}

// ---- writing ----

static void write_atomically(const std::string& path, const std::string& bytes) {
    write_file_atomic(path, "image", bytes);
}

static void append_stb(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

void write_png(const std::string& path, const Image& image) {
    PG_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, path,
             ": write_png takes 1, 3 or 4 channels, got ", image.channels);
    std::string bytes;
    PG_CHECK(stbi_write_png_to_func(append_stb, &bytes, image.width, image.height, image.channels,
                                    image.pixels.data(), image.width * image.channels),
             path, ": PNG encoding failed");
    write_atomically(path, bytes);
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
    std::string bytes;
    PG_CHECK(stbi_write_jpg_to_func(append_stb, &bytes, image.width, image.height, image.channels,
                                    image.pixels.data(), quality),
             path, ": JPEG encoding failed");
    write_atomically(path, bytes);
}

static uint32_t crc32(const std::string& bytes) {
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_be32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(char((v >> s) & 0xFF));
}

static void put_chunk(std::string& png, const char* type, const std::string& data) {
    put_be32(png, uint32_t(data.size()));
    std::string typed = std::string(type, 4) + data;
    png += typed;
    put_be32(png, crc32(typed));
}

// rows: height rows of `row_bytes` raw samples; each gets filter type 0 (none) before deflate.
static void write_raw_png(const std::string& path, int width, int height, int bit_depth,
                          int color_type, const std::string& rows, size_t row_bytes,
                          const std::string& plte) {
    std::string filtered;
    for (int y = 0; y < height; y++) {
        filtered.push_back('\0');
        filtered.append(rows, size_t(y) * row_bytes, row_bytes);
    }
    int zlen = 0;
    unsigned char* z = stbi_zlib_compress(reinterpret_cast<unsigned char*>(filtered.data()),
                                          int(filtered.size()), &zlen, 8);
    PG_CHECK(z != nullptr, path, ": zlib compression failed");
    std::string idat(reinterpret_cast<char*>(z), size_t(zlen));
    free(z);
    std::string ihdr;
    put_be32(ihdr, uint32_t(width));
    put_be32(ihdr, uint32_t(height));
    ihdr += {char(bit_depth), char(color_type), 0, 0, 0};
    std::string png("\x89PNG\r\n\x1a\n", 8);
    put_chunk(png, "IHDR", ihdr);
    if (!plte.empty()) put_chunk(png, "PLTE", plte);
    put_chunk(png, "IDAT", idat);
    put_chunk(png, "IEND", "");
    write_atomically(path, png);
}

void write_palette_png(const std::string& path, const LabelMap& labels, const Palette& palette) {
    PG_CHECK(!palette.empty() && palette.size() <= 256, path,
             ": a palette holds 1..256 colours, got ", palette.size());
    std::string rows(labels.values.size(), '\0');
    for (size_t i = 0; i < labels.values.size(); i++) {
        int32_t v = labels.values[i];
        PG_CHECK(v >= 0 && size_t(v) < palette.size(), path, ": label ", v, " at pixel ", i,
                 " has no palette entry (palette of ", palette.size(), ")");
        rows[i] = char(v);
    }
    std::string plte;
    for (const auto& c : palette) plte += {char(c[0]), char(c[1]), char(c[2])};
    write_raw_png(path, labels.width, labels.height, 8, 3, rows, size_t(labels.width), plte);
}

void write_png16(const std::string& path, const LabelMap& labels, int channels) {
    PG_CHECK(channels == 1 || channels == 3, path, ": write_png16 takes 1 or 3 channels, got ",
             channels);
    std::string rows;
    rows.reserve(labels.values.size() * 2 * size_t(channels));
    for (int32_t v : labels.values) {
        PG_CHECK(v >= 0 && v <= 65535, path, ": value ", v, " does not fit 16 bits");
        for (int c = 0; c < channels; c++) rows += {char(v >> 8), char(v & 0xFF)};
    }
    write_raw_png(path, labels.width, labels.height, 16, channels == 1 ? 0 : 2, rows,
                  size_t(labels.width) * 2 * size_t(channels), "");
}

Palette voc_palette() {
    Palette palette(256);
    for (int i = 0; i < 256; i++) {
        int r = 0, g = 0, b = 0, c = i;
        for (int bit = 7; bit >= 0; bit--, c >>= 3) {
            r |= ((c >> 0) & 1) << bit;
            g |= ((c >> 1) & 1) << bit;
            b |= ((c >> 2) & 1) << bit;
        }
        palette[size_t(i)] = {uint8_t(r), uint8_t(g), uint8_t(b)};
    }
    return palette;
}

} // namespace pg::seg
