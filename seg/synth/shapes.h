// The shape catalogue of the synthetic world: synthetic class c (1..K-1) is shape c-1 of this
// list, class 0 is background. A shape is a point-membership test in its own frame: centred at the
// origin, unrotated, about unit radius. scene.cpp places, rotates, scales and colours them.
// The order puts look-alike pairs early (disc/ring, square/frame, cross/star) so that a small K
// is already hard.
#pragma once

namespace pg::seg::synth {

// Number of shapes in the catalogue (the largest K is shape_count() + 1).
int shape_count();
// "disc", "ring", ...; shape in [0, shape_count()).
const char* shape_name(int shape);
// Whether the point (u, v) of the shape's frame is inside the shape. `param` in [0, 1) varies a
// shape within its class (ring thickness, star depth, bar width, ...) without making it another.
bool shape_contains(int shape, float u, float v, float param);

} // namespace pg::seg::synth
