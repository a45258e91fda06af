// Layout ops: permute (against a naive reference), concat / split / narrow, crop / pad / flip by
// hand and on label maps of every dtype, gradient checks with awkward shapes, parity, errors.
#include <algorithm>
#include <numeric>
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
Tensor u8(std::vector<uint8_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor i32(std::vector<int32_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// 0, 1, 2, ... as f32 of the given shape.
Tensor iota(const Shape& shape) {
    std::vector<float> v(size_t(numel(shape)));
    std::iota(v.begin(), v.end(), 0.f);
    return Tensor::from_vector(v, shape);
}

#define EXPECT_ERROR(stmt, text)                                                                   \
    do {                                                                                           \
        std::string msg_ = error_of([&] { stmt; });                                                \
        EXPECT_NE(msg_.find(text), std::string::npos) << "message: " << msg_;                      \
    } while (0)

// The naive permute: walk the output, compute each source index from scratch.
Tensor naive_permute(const Tensor& x, const std::vector<int>& dims) {
    const Shape& in = x.shape();
    Shape out_shape;
    for (int d : dims) out_shape.push_back(in[size_t(d)]);
    std::vector<float> src = x.to_f32_vector(), dst(src.size());
    std::vector<int64_t> idx(dims.size(), 0);
    for (size_t o = 0; o < dst.size(); o++) {
        int64_t rest = int64_t(o), s = 0;
        for (int i = int(dims.size()) - 1; i >= 0; i--) {
            idx[size_t(i)] = rest % out_shape[size_t(i)];
            rest /= out_shape[size_t(i)];
        }
        for (size_t d = 0; d < in.size(); d++) {
            int64_t pos = 0;
            for (size_t i = 0; i < dims.size(); i++)
                if (dims[i] == int(d)) pos = idx[i];
            s = s * in[d] + pos;
        }
        dst[o] = src[size_t(s)];
    }
    return Tensor::from_vector(dst, out_shape);
}

// ---- permute ----

TEST(Layout, PermuteByHandAndNchwNhwc) {
    EXPECT_TRUE(all_equal(permute(iota({2, 3}), {1, 0}), f32({0, 3, 1, 4, 2, 5}, {3, 2})));
    // (N, C, H, W) = (1, 2, 2, 2): channel planes [0..3] and [4..7] interleave in NHWC.
    Tensor nchw = iota({1, 2, 2, 2});
    Tensor nhwc = nchw_to_nhwc(nchw);
    EXPECT_TRUE(all_equal(nhwc, f32({0, 4, 1, 5, 2, 6, 3, 7}, {1, 2, 2, 2})));
    EXPECT_TRUE(all_equal(nhwc_to_nchw(nhwc), nchw));
    // Negative dims count from the end; integer dtypes are copied exactly.
    Tensor labels = i32({1, 2, 3, 4, 5, 6}, {1, 2, 3});
    EXPECT_TRUE(all_equal(permute(labels, {0, -1, 1}), i32({1, 4, 2, 5, 3, 6}, {1, 3, 2})));
    Tensor bytes = u8({0, 255, 7, 9}, {2, 2});
    EXPECT_TRUE(all_equal(permute(bytes, {1, 0}), u8({0, 7, 255, 9}, {2, 2})));
}

TEST(Layout, PermuteMatchesNaiveReferenceForEveryOrder) {
    Tensor x = iota({2, 3, 4, 5});
    std::vector<int> dims{0, 1, 2, 3};
    int orders = 0;
    do {
        EXPECT_TRUE(all_equal(permute(x, dims), naive_permute(x, dims)))
            << "dims " << dims[0] << dims[1] << dims[2] << dims[3];
        orders++;
    } while (std::next_permutation(dims.begin(), dims.end()));
    EXPECT_EQ(orders, 24);
    // Size-1 axes, 6 dims, and a u8 tensor (1-byte elements) through the same path.
    Tensor y = iota({3, 1, 2, 1, 4, 2});
    std::vector<int> six{4, 1, 0, 5, 3, 2};
    EXPECT_TRUE(all_equal(permute(y, six), naive_permute(y, six)));
    Tensor small = cast(iota({3, 1, 2, 5}), DType::u8);
    EXPECT_TRUE(all_equal(permute(small, {3, 0, 2, 1}),
                          cast(naive_permute(iota({3, 1, 2, 5}), {3, 0, 2, 1}), DType::u8)));
}

// ---- concat / split / narrow ----

TEST(Layout, ConcatSplitNarrowByHand) {
    Tensor a = f32({1, 2, 3, 4}, {2, 2}), b = f32({5, 6}, {2, 1}), c = f32({7, 8}, {1, 2});
    EXPECT_TRUE(all_equal(concat({a, b}, 1), f32({1, 2, 5, 3, 4, 6}, {2, 3})));
    EXPECT_TRUE(all_equal(concat({a, c}, 0), f32({1, 2, 3, 4, 7, 8}, {3, 2})));
    EXPECT_TRUE(all_equal(concat({b, a, b}, -1), f32({5, 1, 2, 5, 6, 3, 4, 6}, {2, 4})));
    std::vector<Tensor> parts = split(iota({2, 5}), {1, 3, 0, 1}, 1);
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_TRUE(all_equal(parts[0], f32({0, 5}, {2, 1})));
    EXPECT_TRUE(all_equal(parts[1], f32({1, 2, 3, 6, 7, 8}, {2, 3})));
    EXPECT_EQ(parts[2].shape(), (Shape{2, 0}));
    EXPECT_TRUE(all_equal(parts[3], f32({4, 9}, {2, 1})));
    EXPECT_TRUE(all_equal(concat(parts, 1), iota({2, 5})));
    EXPECT_TRUE(all_equal(narrow(iota({3, 4}), 0, 1, 2), f32({4, 5, 6, 7, 8, 9, 10, 11}, {2, 4})));
    EXPECT_TRUE(all_equal(narrow(iota({3, 4}), -1, 3, 1), f32({3, 7, 11}, {3, 1})));
}

TEST(Layout, ConcatAlongEveryAxisMatchesNarrow) {
    // Three pieces along each axis of a 4-D tensor: concat then narrow gives each piece back.
    Generator gen(3);
    for (int axis = 0; axis < 4; axis++) {
        Shape s0{2, 3, 4, 5}, s1 = s0, s2 = s0;
        s1[size_t(axis)] = 1;
        s2[size_t(axis)] = 3;
        Tensor p0 = test::random_tensor(s0, gen), p1 = test::random_tensor(s1, gen),
               p2 = test::random_tensor(s2, gen);
        Tensor joined = concat({p0, p1, p2}, axis);
        int64_t n0 = s0[size_t(axis)];
        EXPECT_EQ(joined.size(axis), n0 + 1 + 3);
        EXPECT_TRUE(all_equal(narrow(joined, axis, 0, n0), p0)) << "axis " << axis;
        EXPECT_TRUE(all_equal(narrow(joined, axis, n0, 1), p1)) << "axis " << axis;
        EXPECT_TRUE(all_equal(narrow(joined, axis, n0 + 1, 3), p2)) << "axis " << axis;
    }
}

// ---- crop / pad / flip ----

TEST(Layout, CropPadFlipByHand) {
    // (1, 3, 4) label map.
    Tensor m = u8({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {1, 3, 4});
    EXPECT_TRUE(all_equal(crop(m, 1, 1, 2, 2), u8({5, 6, 9, 10}, {1, 2, 2})));
    EXPECT_TRUE(all_equal(pad(crop(m, 0, 2, 1, 2), 1, 0, 0, 1, 255),
                          u8({255, 255, 255, 2, 3, 255}, {1, 2, 3})));
    EXPECT_TRUE(
        all_equal(flip_horizontal(m), u8({3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}, {1, 3, 4})));
    // (1, 1, 2, 2) image: whole pixels move, channels stay in order; the fill is converted to f32.
    Tensor img = f32({1, 2, 3, 4}, {1, 1, 2, 2});
    EXPECT_TRUE(all_equal(flip_horizontal(img), f32({3, 4, 1, 2}, {1, 1, 2, 2})));
    EXPECT_TRUE(
        all_equal(pad(img, 0, 1, 1, 0, 0.5),
                  f32({0.5f, 0.5f, 1, 2, 3, 4, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, {1, 2, 3, 2})));
    EXPECT_TRUE(all_equal(crop(pad(img, 2, 3, 4, 5), 2, 4, 1, 2), img));
    EXPECT_TRUE(all_equal(crop(img, 0, 1, 1, 1), f32({3, 4}, {1, 1, 1, 2})));
}

TEST(Layout, LabelMapsKeepExactValues) {
    // u8 and i32 label maps (classes and the ignore label 255) through every spatial op.
    Generator gen(4);
    Tensor labels_f = test::random_tensor({3, 7, 9}, gen, 0.f, 21.f);
    std::vector<float> v = labels_f.to_f32_vector();
    for (size_t i = 0; i < v.size(); i += 5) v[i] = 255.f; // some ignored pixels
    Tensor reference = cast(Tensor::from_vector(v, {3, 7, 9}), DType::i32);
    for (DType dtype : {DType::u8, DType::i32}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor labels = cast(reference, dtype);
        Tensor padded = pad(labels, 2, 1, 3, 0, 255);
        EXPECT_EQ(padded.dtype(), dtype);
        EXPECT_EQ(padded.shape(), (Shape{3, 10, 12}));
        EXPECT_TRUE(all_equal(crop(padded, 2, 3, 7, 9), labels));
        std::vector<int32_t> p = cast(padded, DType::i32).to_i32_vector();
        EXPECT_EQ(p[0], 255); // padded corner
        EXPECT_EQ(p[size_t(2 * 12 + 3)], reference.to_i32_vector()[0]);
        EXPECT_TRUE(all_equal(flip_horizontal(flip_horizontal(labels)), labels));
        Tensor flipped = cast(flip_horizontal(labels), DType::i32);
        EXPECT_EQ(flipped.to_i32_vector()[8], reference.to_i32_vector()[0]);
        Tensor up = resize_nearest(labels, 14, 27); // exact 2x / 3x: every label repeats
        EXPECT_TRUE(all_equal(resize_nearest(up, 7, 9), labels));
        std::vector<Tensor> halves = split(labels, {2, 1}, 0);
        EXPECT_TRUE(all_equal(concat(halves, 0), labels));
        Tensor twice = concat({labels, labels}, 2);
        EXPECT_EQ(twice.dtype(), dtype);
        EXPECT_TRUE(all_equal(narrow(twice, 2, 9, 9), labels));
    }
}

TEST(Layout, Bf16IsMovedBitExactly) {
    // 2-byte elements (and 6-byte pixels) take the 16-bit word path of the copy kernels.
    Tensor x = cast(iota({2, 3, 5, 3}), DType::bf16); // small integers: exact in bf16
    Tensor round_trip = nhwc_to_nchw(nchw_to_nhwc(flip_horizontal(flip_horizontal(x))));
    EXPECT_EQ(round_trip.dtype(), DType::bf16);
    EXPECT_TRUE(all_equal(cast(round_trip, DType::f32), iota({2, 3, 5, 3})));
    EXPECT_TRUE(all_equal(cast(pad(x, 1, 0, 0, 2, -3.0), DType::f32),
                          pad(iota({2, 3, 5, 3}), 1, 0, 0, 2, -3.0)));
    EXPECT_TRUE(all_equal(cast(concat(split(x, {1, 2}, 3), 3), DType::f32), iota({2, 3, 5, 3})));
}

// ---- gradients ----

TEST(LayoutGrad, PermuteAndNchwNhwc) {
    Generator gen(5);
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) {
            return permute(in[0], {2, 0, 3, 1});
        },
        {random_leaf({2, 1, 3, 2}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return nchw_to_nhwc(in[0]); },
                        {random_leaf({1, 3, 2, 1}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return nhwc_to_nchw(in[0]); },
                        {random_leaf({2, 1, 3, 2}, gen)});
}

TEST(LayoutGrad, ConcatThreePiecesAlongEachAxis) {
    Generator gen(6);
    for (int axis = 0; axis < 3; axis++) {
        SCOPED_TRACE("axis " + std::to_string(axis));
        Shape s0{2, 3, 2}, s1 = s0, s2 = s0;
        s1[size_t(axis)] = 1;
        s2[size_t(axis)] = 3;
        PG_EXPECT_GRADCHECK(
            [axis](const std::vector<Tensor>& in) {
                return concat({in[0], in[1], in[2]}, axis);
            },
            {random_leaf(s0, gen), random_leaf(s1, gen), random_leaf(s2, gen)});
    }
    // A piece that needs no gradient, and the same tensor twice (its gradients add up).
    Tensor constant = test::random_tensor({2, 1}, gen);
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return concat({in[0], constant, in[0]}, 1);
        },
        {random_leaf({2, 2}, gen)});
}

TEST(LayoutGrad, SplitUnevenAndNarrow) {
    Generator gen(7);
    // Uneven pieces with an empty one; the result uses them in another order with weights.
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) {
            std::vector<Tensor> p = split(in[0], {1, 0, 3, 2}, 1);
            return concat({p[3] * 2.f, p[0], p[2]}, 1);
        },
        {random_leaf({2, 6, 3}, gen)});
    // Only one piece reaches the result: the engine supplies zeros for the others.
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) {
            return split(in[0], {2, 1, 2}, -1)[1];
        },
        {random_leaf({3, 5}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return narrow(in[0], 0, 1, 1); },
                        {random_leaf({3, 1, 2}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return narrow(in[0], 2, 0, 3); },
                        {random_leaf({2, 2, 4}, gen)});
}

TEST(LayoutGrad, CropPadFlipImagesAndMaps) {
    Generator gen(8);
    for (const Shape& shape : {Shape{2, 4, 5, 3}, Shape{1, 3, 5}, Shape{2, 1, 3, 1}}) {
        SCOPED_TRACE(shape_str(shape));
        int64_t H = shape[1], W = shape[2];
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) { return crop(in[0], H - 1, 1, 1, W - 1); },
            {random_leaf(shape, gen)});
        PG_EXPECT_GRADCHECK(
            [](const std::vector<Tensor>& in) { return pad(in[0], 1, 0, 2, 1, 0.7); },
            {random_leaf(shape, gen)});
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return flip_horizontal(in[0]); },
                            {random_leaf(shape, gen)});
    }
}

// ---- CPU / device parity ----

class LayoutDevice : public test::DeviceTest {};

TEST_P(LayoutDevice, ParityWithCpu) {
    Generator gen(9);
    Tensor x = random_leaf({2, 5, 7, 3}, gen), y = random_leaf({2, 5, 2, 3}, gen);
    auto permuted = [](const std::vector<Tensor>& in) {
        return nchw_to_nhwc(permute(in[0], {3, 1, 0, 2}));
    };
    auto joined = [](const std::vector<Tensor>& in) {
        std::vector<Tensor> p = split(in[0], {3, 0, 4}, 2);
        return concat({p[1], in[1], narrow(p[2], 2, 1, 3) * 2.f + p[0]}, 2);
    };
    auto spatial = [](const std::vector<Tensor>& in) {
        return flip_horizontal(pad(crop(in[0], 1, 2, 3, 4), 2, 1, 0, 3, -1.0));
    };
    EXPECT_TRUE(test::device_parity(permuted, {x}, device()));
    EXPECT_TRUE(test::device_parity(joined, {x, y}, device()));
    EXPECT_TRUE(test::device_parity(spatial, {x}, device()));
    // A u8 label map with a 255 pad, checked exactly.
    auto labels = [](const std::vector<Tensor>& in) {
        Tensor l = cast(in[0], DType::u8);
        return cast(flip_horizontal(pad(crop(l, 0, 1, 4, 5), 1, 2, 3, 4, 255)), DType::f32);
    };
    Tensor map = cast(cast(test::random_tensor({2, 5, 7}, gen, 0.f, 21.f), DType::u8), DType::f32);
    EXPECT_TRUE(test::device_parity(labels, {map}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(LayoutDevice);

// ---- bad input ----

TEST(LayoutErrors, PermuteAndConcat) {
    Tensor x = Tensor::zeros({2, 3, 4});
    EXPECT_ERROR(permute(x, {0, 1}),
                 "permute: 2 dims (0, 1) given for a tensor of shape (2, 3, 4)");
    EXPECT_ERROR(permute(x, {0, 2, 0}), "permute: dimension 0 appears twice in (0, 2, 0)");
    EXPECT_ERROR(permute(x, {0, 1, 3}),
                 "permute: axis 3 is out of range for a tensor with 3 dimensions");
    EXPECT_ERROR(nchw_to_nhwc(x),
                 "nchw_to_nhwc: input must have 4 dimensions, got shape (2, 3, 4)");
    EXPECT_ERROR(concat({}, 0), "concat: no tensors to join");
    EXPECT_ERROR(concat({x, Tensor::zeros({2, 4, 4})}, 0),
                 "concat: tensor 1 has shape (2, 4, 4) and tensor 0 has (2, 3, 4); they must agree "
                 "except on axis 0");
    EXPECT_ERROR(concat({x, Tensor::zeros({2, 3})}, 1), "concat: tensor 1 has shape (2, 3)");
    EXPECT_ERROR(concat({x, Tensor::zeros({2, 3, 4}, DType::u8)}, 0),
                 "concat: tensor 1 is u8 but tensor 0 is f32");
    EXPECT_ERROR(concat({x, x}, 3),
                 "concat: axis 3 is out of range for a tensor with 3 dimensions");
    EXPECT_ERROR(concat({x, Tensor()}, 0), "concat: tensor 1 is undefined");
}

TEST(LayoutErrors, SplitAndNarrow) {
    Tensor x = Tensor::zeros({2, 5});
    EXPECT_ERROR(split(x, {2, 2}, 1), "split: sizes (2, 2) add up to 4 but axis 1 of (2, 5) has 5");
    EXPECT_ERROR(split(x, {6, -1}, 1), "split: negative size -1 at position 1 of (6, -1)");
    EXPECT_ERROR(split(x, {2}, 2), "split: axis 2 is out of range for a tensor with 2 dimensions");
    EXPECT_ERROR(narrow(x, 1, 3, 3),
                 "narrow: start 3 and length 3 do not fit axis 1 of (2, 5) (size 5)");
    EXPECT_ERROR(narrow(x, 0, -1, 1), "narrow: start -1 and length 1 do not fit axis 0");
    EXPECT_ERROR(narrow(x, -3, 0, 1),
                 "narrow: axis -3 is out of range for a tensor with 2 dimensions");
}

TEST(LayoutErrors, CropPadFlip) {
    Tensor img = Tensor::zeros({1, 4, 6, 3});
    EXPECT_ERROR(crop(img, 2, 0, 3, 6),
                 "crop: window rows [2, 5) x columns [0, 6) is not inside the 4x6 image of shape "
                 "(1, 4, 6, 3)");
    EXPECT_ERROR(crop(img, 0, -1, 1, 1), "crop: window rows [0, 1) x columns [-1, 0)");
    EXPECT_ERROR(crop(img, 0, 0, -1, 2), "crop: negative size -1x2");
    EXPECT_ERROR(pad(img, 0, -2, 1, 1),
                 "pad: negative padding (top 0, bottom -2, left 1, right 1)");
    Tensor labels = Tensor::zeros({1, 4, 6}, DType::u8);
    EXPECT_ERROR(pad(labels, 1, 1, 1, 1, 256), "pad: fill value 256 is not representable in u8");
    EXPECT_ERROR(pad(labels, 1, 1, 1, 1, -1), "pad: fill value -1 is not representable in u8");
    EXPECT_ERROR(pad(Tensor::zeros({1, 2, 2}, DType::i32), 1, 1, 1, 1, 0.5),
                 "pad: fill value 0.5 is not representable in i32");
    EXPECT_ERROR(flip_horizontal(Tensor::zeros({4, 6})),
                 "flip_horizontal: expected an (N, H, W, C) image or an (N, H, W) label map, got "
                 "shape (4, 6)");
    EXPECT_ERROR(crop(Tensor::zeros({1, 1, 2, 2, 2}), 0, 0, 1, 1), "crop: expected");
}

} // namespace
} // namespace pg
