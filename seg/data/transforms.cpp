// Deterministic pair transforms (seg/data/transforms.h). Bilinear and nearest resizing are the
// engine's ops (autograd/resize.h, PyTorch-exact); the antialiased bicubic that PIL uses is here,
// as is everything that only moves pixels (flip, pad, crop) and the per-channel normalisation.
#include "seg/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "autograd/resize.h"
#include "tensor/error.h"

namespace pg::seg {

TensorSample to_tensors(const Sample& sample) {
    const Image& im = sample.image;
    PG_CHECK(im.channels == 3, "to_tensors: '", sample.id, "' has ", im.channels,
             " channels; expected RGB");
    TensorSample s;
    s.id = sample.id;
    s.image = Tensor::empty({im.height, im.width, 3}); // (H, W, 3)
    float* dst = s.image.f32();
    for (size_t i = 0; i < im.pixels.size(); i++) dst[i] = float(im.pixels[i]);
    if (sample.label.height > 0) {
        const LabelMap& lb = sample.label;
        PG_CHECK(lb.height == im.height && lb.width == im.width, "to_tensors: '", sample.id,
                 "' has a ", lb.height, "x", lb.width, " label for a ", im.height, "x", im.width,
                 " image");
        s.label = Tensor::from_vector(lb.values, {lb.height, lb.width}); // (H, W) i32
    }
    return s;
}

// ---- resizing ----

// PIL's bicubic kernel (a = -0.5).
static double bicubic_filter(double x) {
    const double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// Per output position along one axis: the first source index and normalised weights. When
// shrinking, the kernel is stretched by in/out so every source pixel contributes (antialiasing),
// exactly as PIL's precompute_coeffs.
struct Taps {
    int ksize = 0;
    std::vector<int> first, count; // (out)
    std::vector<float> weights;    // (out, ksize)
};

static Taps bicubic_taps(int64_t in, int64_t out) {
    const double scale = double(in) / double(out);
    const double filter_scale = std::max(scale, 1.0);
    const double support = 2.0 * filter_scale;
    Taps t;
    t.ksize = int(std::ceil(support)) * 2 + 1;
    t.first.resize(size_t(out));
    t.count.resize(size_t(out));
    t.weights.assign(size_t(out) * size_t(t.ksize), 0.f);
    for (int64_t o = 0; o < out; o++) {
        double center = (double(o) + 0.5) * scale;
        int lo = std::max(0, int(center - support + 0.5));
        int hi = std::min(int(in), int(center + support + 0.5));
        double sum = 0.0;
        std::vector<double> w(size_t(hi - lo));
        for (int x = lo; x < hi; x++) {
            w[size_t(x - lo)] = bicubic_filter((double(x) - center + 0.5) / filter_scale);
            sum += w[size_t(x - lo)];
        }
        t.first[size_t(o)] = lo;
        t.count[size_t(o)] = hi - lo;
        for (int k = 0; k < hi - lo; k++)
            t.weights[size_t(o) * size_t(t.ksize) + size_t(k)] =
                float(sum != 0.0 ? w[size_t(k)] / sum : 0.0);
    }
    return t;
}

// One separable pass over a (rows, cols, 3) buffer along `cols` (horizontal) or `rows`
// (vertical); results are clamped to 0..255 like PIL's 8-bit passes (without its rounding).
static std::vector<float> bicubic_pass(const std::vector<float>& in, int64_t rows, int64_t cols,
                                       int64_t out_len, bool horizontal) {
    const Taps t = bicubic_taps(horizontal ? cols : rows, out_len);
    const int64_t out_rows = horizontal ? rows : out_len, out_cols = horizontal ? out_len : cols;
    std::vector<float> out(size_t(out_rows * out_cols * 3));
    for (int64_t y = 0; y < out_rows; y++) {
        for (int64_t x = 0; x < out_cols; x++) {
            const int64_t o = horizontal ? x : y;
            const float* w = &t.weights[size_t(o) * size_t(t.ksize)];
            float acc[3] = {0.f, 0.f, 0.f};
            for (int k = 0; k < t.count[size_t(o)]; k++) {
                int64_t src = t.first[size_t(o)] + k;
                const float* p = horizontal ? &in[size_t((y * cols + src) * 3)]
                                            : &in[size_t((src * cols + x) * 3)];
                for (int c = 0; c < 3; c++) acc[c] += w[k] * p[c];
            }
            float* q = &out[size_t((y * out_cols + x) * 3)];
            for (int c = 0; c < 3; c++) q[c] = std::min(255.f, std::max(0.f, acc[c]));
        }
    }
    return out;
}

static Tensor resize_bicubic(const Tensor& image, int64_t height, int64_t width) {
    const int64_t H = image.size(0), W = image.size(1);
    std::vector<float> pixels(image.f32(), image.f32() + image.numel());   // (H, W, 3)
    pixels = bicubic_pass(pixels, H, W, width, /*horizontal=*/true);       // (H, width, 3)
    pixels = bicubic_pass(pixels, H, width, height, /*horizontal=*/false); // (height, width, 3)
    return Tensor::from_vector(pixels, {height, width, 3});
}

// PIL's NEAREST samples at pixel centres, src = floor((dst + 0.5) * in / out), with the position
// accumulated in doubles one step at a time as Pillow's ImagingScaleAffine does (so 4.5 * 128 / 96
// lands on 5.99.. -> 5, as PIL gives). torchvision resizes a PIL label this way beside a PIL bicubic
// image (RIPU), so both stay centre-aligned; PyTorch's floor(dst * in / out) would shift the labels
// up to one source pixel up-left of the image, putting boundary labels (RIPU's region picks) on
// the wrong side of the edge.
static std::vector<int64_t> pil_nearest_sources(int64_t in, int64_t out) {
    const double step = double(in) / double(out);
    std::vector<int64_t> src(static_cast<size_t>(out));
    double pos = 0.5 * step;
    for (int64_t o = 0; o < out; o++, pos += step) src[size_t(o)] = std::min(in - 1, int64_t(pos));
    return src;
}

static Tensor resize_labels_pil_nearest(const Tensor& label, int64_t height, int64_t width) {
    const int64_t W = label.size(1); // (H, W) i32
    const std::vector<int64_t> rows = pil_nearest_sources(label.size(0), height);
    const std::vector<int64_t> cols = pil_nearest_sources(W, width);
    Tensor out = Tensor::empty({height, width}, label.dtype());
    const int32_t* src = label.i32();
    int32_t* dst = out.i32();
    for (int64_t y = 0; y < height; y++)
        for (int64_t x = 0; x < width; x++)
            dst[y * width + x] = src[rows[size_t(y)] * W + cols[size_t(x)]];
    return out;
}

void resize(TensorSample& s, int64_t height, int64_t width, Interp interp) {
    PG_CHECK(height >= 1 && width >= 1, "resize: '", s.id, "' to ", height, "x", width,
             "; sizes must be >= 1");
    const int64_t H = s.image.size(0), W = s.image.size(1);
    if (H == height && W == width) return;
    if (interp == Interp::bicubic) {
        s.image = resize_bicubic(s.image, height, width);
    } else {
        Tensor x = s.image.alias_with_shape({1, H, W, 3}); // (1, H, W, 3)
        Tensor y = interp == Interp::bilinear ? resize_bilinear(x, height, width, false)
                                              : resize_nearest(x, height, width);
        s.image = y.alias_with_shape({height, width, 3});
    }
    if (s.label.defined() && interp == Interp::bicubic) {
        s.label = resize_labels_pil_nearest(s.label, height, width);
    } else if (s.label.defined()) {
        Tensor y = resize_nearest(s.label.alias_with_shape({1, H, W}), height, width);
        s.label = y.alias_with_shape({height, width});
    }
}

// ---- moving pixels ----

// Reverses each row of a (H, W, channels) tensor of any dtype.
static Tensor flip_rows(const Tensor& t, int64_t channels) {
    const int64_t H = t.size(0), W = t.size(1);
    const size_t px = size_t(channels) * dtype_size(t.dtype());
    Tensor out = Tensor::empty(t.shape(), t.dtype());
    const char* src = static_cast<const char*>(t.raw());
    char* dst = static_cast<char*>(out.raw());
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            std::memcpy(dst + size_t(y * W + x) * px, src + size_t(y * W + (W - 1 - x)) * px, px);
    return out;
}

void hflip(TensorSample& s) {
    s.image = flip_rows(s.image, 3);
    if (s.label.defined()) s.label = flip_rows(s.label, 1);
}

void pad(TensorSample& s, int64_t top, int64_t bottom, int64_t left, int64_t right,
         const std::array<float, 3>& image_value, int32_t label_value) {
    PG_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad: '", s.id,
             "': negative padding (", top, ", ", bottom, ", ", left, ", ", right, ")");
    if (top + bottom + left + right == 0) return;
    const int64_t H = s.image.size(0), W = s.image.size(1);
    const int64_t OH = H + top + bottom, OW = W + left + right;
    Tensor image = Tensor::empty({OH, OW, 3}); // (OH, OW, 3)
    float* dst = image.f32();
    for (int64_t i = 0; i < OH * OW; i++)
        for (int c = 0; c < 3; c++) dst[i * 3 + c] = image_value[size_t(c)];
    const float* src = s.image.f32();
    for (int64_t y = 0; y < H; y++)
        std::memcpy(dst + ((y + top) * OW + left) * 3, src + y * W * 3, size_t(W) * 3 * 4);
    s.image = image;
    if (s.label.defined()) {
        Tensor label = Tensor::full({OH, OW}, label_value, DType::i32); // (OH, OW)
        const int32_t* lsrc = s.label.i32();
        for (int64_t y = 0; y < H; y++)
            std::memcpy(label.i32() + (y + top) * OW + left, lsrc + y * W, size_t(W) * 4);
        s.label = label;
    }
}

void crop(TensorSample& s, int64_t top, int64_t left, int64_t height, int64_t width) {
    const int64_t H = s.image.size(0), W = s.image.size(1);
    PG_CHECK(top >= 0 && left >= 0 && height >= 1 && width >= 1 && top + height <= H &&
                 left + width <= W,
             "crop: '", s.id, "': window (top ", top, ", left ", left, ", ", height, "x", width,
             ") does not fit the ", H, "x", W, " image");
    if (top == 0 && left == 0 && height == H && width == W) return;
    Tensor image = Tensor::empty({height, width, 3}); // (height, width, 3)
    for (int64_t y = 0; y < height; y++)
        std::memcpy(image.f32() + y * width * 3, s.image.f32() + ((top + y) * W + left) * 3,
                    size_t(width) * 3 * 4);
    s.image = image;
    if (s.label.defined()) {
        Tensor label = Tensor::empty({height, width}, DType::i32);
        for (int64_t y = 0; y < height; y++)
            std::memcpy(label.i32() + y * width, s.label.i32() + (top + y) * W + left,
                        size_t(width) * 4);
        s.label = label;
    }
}

// ---- normalisation ----

Normalize u2pl_normalize() {
    return {{123.675f, 116.28f, 103.53f}, {58.395f, 57.12f, 57.375f}, 1.f, false};
}

Normalize advsemiseg_normalize() {
    return {{104.00698793f, 116.66876762f, 122.67891434f}, {1.f, 1.f, 1.f}, 1.f, true};
}

Normalize imagenet_normalize() {
    return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1.f / 255.f, false};
}

std::array<float, 3> mean_colour(const Normalize& n) {
    std::array<float, 3> rgb{};
    for (int c = 0; c < 3; c++) rgb[size_t(n.bgr ? 2 - c : c)] = n.mean[size_t(c)] / n.value_scale;
    return rgb;
}

void normalize(TensorSample& s, const Normalize& n) {
    for (int c = 0; c < 3; c++) PG_CHECK(n.std[size_t(c)] != 0.f, "normalize: std[", c, "] is 0");
    const int64_t pixels = s.image.size(0) * s.image.size(1);
    Tensor out = Tensor::empty(s.image.shape()); // (H, W, 3)
    const float* src = s.image.f32();
    float* dst = out.f32();
    for (int64_t i = 0; i < pixels; i++) {
        for (int c = 0; c < 3; c++) {
            float v = src[i * 3 + (n.bgr ? 2 - c : c)] * n.value_scale;
            dst[i * 3 + c] = (v - n.mean[size_t(c)]) / n.std[size_t(c)];
        }
    }
    s.image = out;
}

} // namespace pg::seg
