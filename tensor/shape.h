// Shapes and broadcasting: Shape, element counts, axis normalisation, BroadcastGeometry.
// A Tensor is always contiguous (row-major), so a shape is all a kernel needs to find an element;
// broadcasting is described by per-operand strides that are 0 along broadcast dimensions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
std::string shape_str(const Shape& shape); // "(2, 3, 4)"
// Maps a possibly negative axis into [0, ndim); throws naming `op` when it is out of range.
int normalize_axis(const char* op, int64_t axis, int ndim);

constexpr int kMaxDims = 8;

// Geometry of an elementwise op between a and b broadcast to a common output shape.
// Dimensions are collapsed where possible, so same-shape ops become ndim 1 and a per-channel
// op over NHWC becomes ndim 2: (N*H*W, C) with a_stride (C, 1), b_stride (0, 1).
struct BroadcastGeometry {
    int ndim = 0;
    int64_t numel = 0;
    int64_t shape[kMaxDims] = {};    // output extent per dimension
    int64_t a_stride[kMaxDims] = {}; // element strides of a; 0 where a is broadcast
    int64_t b_stride[kMaxDims] = {}; // element strides of b; 0 where b is broadcast
};

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Geometry of out = f(a, b) where out_shape == broadcast_shapes(a, b).
BroadcastGeometry broadcast_geometry(const Shape& a, const Shape& b, const Shape& out_shape);

} // namespace pg
