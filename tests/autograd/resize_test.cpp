// Resize ops: bilinear (both align_corners modes) and nearest by hand, against PyTorch dumps
// (tools/dump_resize.py), gradient checks, thread-count independence, CPU/device parity, errors.
#include <omp.h>

#include <string>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::error_of;

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor f32(std::vector<float> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// ---- by hand ----

TEST(Resize, BilinearAlignCornersByHand) {
    // align_corners: the corners map onto each other, src = dst * (in - 1) / (out - 1).
    EXPECT_TRUE(all_close(resize_bilinear(f32({0, 2}, {1, 1, 2, 1}), 1, 3, true),
                          f32({0, 1, 2}, {1, 1, 3, 1})));
    Tensor x = f32({0, 1, 2, 3}, {1, 2, 2, 1});
    EXPECT_TRUE(all_close(resize_bilinear(x, 3, 3, true),
                          f32({0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3}, {1, 3, 3, 1})));
    // out == 1: scale 0, the top-left pixel.
    EXPECT_TRUE(all_close(resize_bilinear(x, 1, 1, true), f32({0}, {1, 1, 1, 1})));
}

TEST(Resize, BilinearHalfPixelByHand) {
    // align_corners false, 2 -> 4: src = (dst + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75,
    // 1.25 (both taps on the last pixel).
    EXPECT_TRUE(all_close(resize_bilinear(f32({0, 2}, {1, 1, 2, 1}), 1, 4, false),
                          f32({0, 0.5f, 1.5f, 2}, {1, 1, 4, 1})));
    // 2x2 -> 1x1: src = 0.5 in both axes, the mean of the four pixels.
    EXPECT_TRUE(all_close(resize_bilinear(f32({0, 1, 2, 3}, {1, 2, 2, 1}), 1, 1, false),
                          f32({1.5f}, {1, 1, 1, 1})));
    // Channels are interpolated independently (NHWC: C contiguous).
    Tensor two = f32({0, 10, 2, 30}, {1, 1, 2, 2});
    EXPECT_TRUE(all_close(resize_bilinear(two, 1, 4, false),
                          f32({0, 10, 0.5f, 15, 1.5f, 25, 2, 30}, {1, 1, 4, 2})));
}

TEST(Resize, BilinearBackwardByHand) {
    // 2 -> 4 half-pixel, weights per output: (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1).
    // dy = (1, 2, 3, 4): dx0 = 1 + 0.75*2 + 0.25*3 = 3.25, dx1 = 0.25*2 + 0.75*3 + 4 = 6.75.
    Tensor x = f32({0, 2}, {1, 1, 2, 1});
    x.set_requires_grad(true);
    backward(resize_bilinear(x, 1, 4, false), f32({1, 2, 3, 4}, {1, 1, 4, 1}));
    EXPECT_TRUE(all_close(x.grad(), f32({3.25f, 6.75f}, {1, 1, 2, 1})));
}

TEST(Resize, NearestByHand) {
    // 3 -> 5: scale 0.6, src = floor(0, 0.6, 1.2, 1.8, 2.4); 5 -> 2: scale 2.5, src = 0, 2.
    Tensor row = Tensor::from_vector(std::vector<int32_t>{7, 8, 9}, {1, 1, 3});
    EXPECT_TRUE(all_equal(resize_nearest(row, 1, 5),
                          Tensor::from_vector(std::vector<int32_t>{7, 7, 8, 8, 9}, {1, 1, 5})));
    Tensor five = Tensor::from_vector(std::vector<uint8_t>{1, 2, 3, 4, 255}, {1, 5, 1});
    EXPECT_TRUE(all_equal(resize_nearest(five, 2, 1),
                          Tensor::from_vector(std::vector<uint8_t>{1, 3}, {1, 2, 1})));
    // (N, H, W, C): whole pixels are copied.
    Tensor px = f32({1, 2, 3, 4}, {1, 1, 2, 2});
    EXPECT_TRUE(all_equal(resize_nearest(px, 1, 4), f32({1, 2, 1, 2, 3, 4, 3, 4}, {1, 1, 4, 2})));
}

// ---- against PyTorch ----

// The kernel reproduces torch's tap weights bit for bit (tensor/cpu/resize.cpp); only the order of
// the f32 products and sums differs, so outputs agree to 1-2 ulp (seen: <= 1.2e-7) and gradients,
// sums of up to ~4 (out / in)^2 terms, to a few ulp (seen: <= 4.8e-7). Tolerances: forward atol and
// rtol 1e-6, gradient 2e-6. A weight off by an ulp of the source index (float instead of double
// source coordinates) already fails them (~1e-6 at values ~0.02).
TEST(ResizeReference, BilinearMatchesPytorch) {
    auto ref = test::load_reference("resize.safetensors");
    const char* cases[] = {"up", "deeplab", "from1", "from1x3", "down", "to1", "same", "mixed"};
    int checked = 0;
    for (const char* name : cases) {
        for (const char* mode : {"ac", "hp"}) {
            std::string key = std::string("bilinear_") + name + "_" + mode;
            SCOPED_TRACE(key);
            ASSERT_EQ(ref.count(key + "_x"), 1u);
            Tensor x = ref[key + "_x"].clone(), y_ref = ref[key + "_y"];
            x.set_requires_grad(true);
            Tensor y = resize_bilinear(x, y_ref.size(1), y_ref.size(2), std::string(mode) == "ac");
            EXPECT_TRUE(all_close(y, y_ref, 1e-6f, 1e-6f));
            backward(y, ref[key + "_dy"]);
            EXPECT_TRUE(all_close(x.grad(), ref[key + "_dx"], 2e-6f, 2e-6f));
            checked++;
        }
    }
    EXPECT_EQ(checked, 16);
}

TEST(ResizeReference, NearestMatchesPytorch) {
    auto ref = test::load_reference("resize.safetensors");
    Tensor labels = ref["nearest_labels"]; // (2, 11, 13) i32, classes 0..20 and 255
    Tensor labels_u8 = cast(labels, DType::u8);
    for (const char* name : {"up", "down", "odd"}) {
        SCOPED_TRACE(name);
        Tensor expected = ref[std::string("nearest_labels_") + name];
        EXPECT_TRUE(
            all_equal(resize_nearest(labels, expected.size(1), expected.size(2)), expected));
        EXPECT_TRUE(all_equal(resize_nearest(labels_u8, expected.size(1), expected.size(2)),
                              cast(expected, DType::u8)));
    }
    Tensor y = ref["nearest_feat_y"];
    EXPECT_TRUE(all_equal(resize_nearest(ref["nearest_feat_x"], y.size(1), y.size(2)), y));
}

// ---- gradients ----

TEST(ResizeGrad, BilinearBothModesAllShapes) {
    Generator gen(11);
    struct Case {
        Shape in;
        int64_t out_h, out_w;
    };
    const Case cases[] = {
        {{1, 3, 4, 2}, 5, 7}, // up, odd output
        {{1, 7, 6, 2}, 3, 2}, // down
        {{2, 5, 3, 1}, 2, 7}, // down in H, up in W, batch 2
        {{1, 1, 1, 2}, 3, 2}, // from a single pixel
        {{1, 5, 4, 1}, 1, 1}, // to a single pixel
        {{1, 1, 5, 3}, 4, 3}, // height 1 up, width down
        {{1, 3, 3, 2}, 3, 3}, // identity size
    };
    for (const Case& c : cases) {
        for (bool align : {true, false}) {
            SCOPED_TRACE(shape_str(c.in) + " -> " + std::to_string(c.out_h) + "x" +
                         std::to_string(c.out_w) + (align ? " align_corners" : " half-pixel"));
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) {
                    return resize_bilinear(in[0], c.out_h, c.out_w, align);
                },
                {random_leaf(c.in, gen)});
        }
    }
}

TEST(ResizeGrad, BackwardDoesNotDependOnThreadCount) {
    Generator gen(12);
    Tensor x = random_leaf({2, 9, 7, 5}, gen);
    Tensor dy = test::random_tensor({2, 33, 25, 5}, gen);
    auto grad_with_threads = [&](int threads) {
        int before = omp_get_max_threads();
        omp_set_num_threads(threads);
        Tensor leaf = x.detach().clone().set_requires_grad(true);
        backward(resize_bilinear(leaf, 33, 25, false), dy);
        omp_set_num_threads(before);
        return leaf.grad();
    };
    EXPECT_TRUE(all_equal(grad_with_threads(1), grad_with_threads(3)));
}

TEST(ResizeGrad, NearestIsRefusedWhenAGradientIsWanted) {
    Generator gen(13);
    Tensor x = random_leaf({1, 4, 4, 2}, gen);
    std::string msg = error_of([&] { resize_nearest(x, 8, 8); });
    EXPECT_NE(msg.find("resize_nearest: the input (1, 4, 4, 2) requires grad"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("use resize_bilinear"), std::string::npos) << msg;
    // Without a gradient to lose it is fine: detached, or under NoGradGuard.
    EXPECT_EQ(resize_nearest(x.detach(), 8, 8).shape(), (Shape{1, 8, 8, 2}));
    NoGradGuard no_grad;
    EXPECT_FALSE(resize_nearest(x, 2, 2).requires_grad());
}

// ---- CPU / device parity ----

class ResizeDevice : public test::DeviceTest {};

TEST_P(ResizeDevice, ParityWithCpu) {
    Generator gen(14);
    Tensor x = random_leaf({2, 9, 11, 6}, gen);
    for (bool align : {true, false}) {
        auto up = [align](const std::vector<Tensor>& in) {
            return resize_bilinear(in[0], 33, 41, align);
        };
        auto down = [align](const std::vector<Tensor>& in) {
            return resize_bilinear(in[0], 4, 1, align);
        };
        EXPECT_TRUE(test::device_parity(up, {x}, device())) << "up, align " << align;
        EXPECT_TRUE(test::device_parity(down, {x}, device())) << "down, align " << align;
    }
    auto nearest = [](const std::vector<Tensor>& in) { return resize_nearest(in[0], 20, 5); };
    EXPECT_TRUE(test::device_parity(nearest, {x.detach()}, device()));
    Tensor labels = cast(mul(test::random_tensor({2, 9, 11}, gen, 0.f, 1.f), 21.f), DType::u8);
    auto label_nearest = [](const std::vector<Tensor>& in) {
        return cast(resize_nearest(cast(in[0], DType::u8), 31, 7), DType::f32);
    };
    EXPECT_TRUE(test::device_parity(label_nearest, {cast(labels, DType::f32)}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(ResizeDevice);

// ---- bad input ----

TEST(ResizeErrors, NameTheOpAndTheValues) {
    Tensor x = Tensor::zeros({1, 4, 4, 3});
    std::string msg;
    msg = error_of([&] { resize_bilinear(Tensor::zeros({1, 4, 4, 3}, DType::i32), 8, 8, true); });
    EXPECT_NE(msg.find("resize_bilinear: input must be f32, got i32 (1, 4, 4, 3)"),
              std::string::npos)
        << msg;
    msg = error_of([&] { resize_bilinear(Tensor::zeros({4, 4, 3}), 8, 8, true); });
    EXPECT_NE(msg.find("resize_bilinear: input must have 4 dimensions, got shape (4, 4, 3)"),
              std::string::npos)
        << msg;
    msg = error_of([&] { resize_bilinear(x, 0, 5, false); });
    EXPECT_NE(msg.find("resize_bilinear: output size 0x5 must be at least 1x1"), std::string::npos)
        << msg;
    msg = error_of([&] { resize_bilinear(Tensor::zeros({1, 0, 4, 3}), 2, 2, false); });
    EXPECT_NE(msg.find("resize_bilinear: input (1, 0, 4, 3) has an empty spatial dimension"),
              std::string::npos)
        << msg;
    msg = error_of([&] { resize_nearest(Tensor::zeros({4, 4}, DType::u8), 2, 2); });
    EXPECT_NE(msg.find("resize_nearest: expected an (N, H, W, C) image or an (N, H, W) label map, "
                       "got shape (4, 4)"),
              std::string::npos)
        << msg;
    msg = error_of([&] { resize_nearest(Tensor::zeros({1, 4, 4}, DType::u8), 3, -1); });
    EXPECT_NE(msg.find("resize_nearest: output size 3x-1 must be at least 1x1"), std::string::npos)
        << msg;
}

} // namespace
} // namespace pg
