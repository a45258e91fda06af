// The shapes of the synthetic world (seg/synth/shapes.h): one membership test per shape, in the
// shape's own frame (u right, v up, unit radius). Every shape fits in the disc of radius 1.15 (the
// square's corners are at 0.8 sqrt 2 = 1.13) so that scene.cpp can bound the pixels it visits.
#include "seg/synth/shapes.h"

#include <cmath>

#include "tensor/error.h"

namespace pg::seg::synth {

namespace {

constexpr float kPi = 3.14159265358979f;

const char* const kNames[] = {"disc",     "ring",     "square", "frame",   "triangle",
                              "cross",    "star",     "bar",    "hexagon", "ellipse",
                              "halfdisc", "crescent", "lshape", "tshape",  "arrow"};
constexpr int kCount = int(sizeof(kNames) / sizeof(kNames[0]));

float lerp(float a, float b, float t) { return a + (b - a) * t; }

// Regular polygon with `sides` sides and circumradius 1, one vertex pointing up: the point is
// inside when its projection on every edge normal is at most the apothem cos(pi / sides).
bool regular_polygon(float u, float v, int sides) {
    float apothem = std::cos(kPi / float(sides));
    for (int k = 0; k < sides; k++) {
        float a = kPi / 2 + kPi / float(sides) + 2 * kPi * float(k) / float(sides); // edge normal
        if (u * std::cos(a) + v * std::sin(a) > apothem) return false;
    }
    return true;
}

// Five-pointed star, outer radius 1, inner radius `inner`. Folding the angle into one half-spike
// leaves one edge to test: from the outer vertex A = (1, 0) to the inner vertex
// B = inner (cos 36, sin 36); the point is inside when it lies on the origin's side of AB.
bool star(float u, float v, float inner) {
    float r = std::sqrt(u * u + v * v);
    if (r > 1.f) return false;
    float sector = 2 * kPi / 5;
    float theta = std::atan2(v, u) - kPi / 2 + 4 * kPi; // a spike points up; keep it positive
    float phi = std::fabs(std::fmod(theta + sector / 2, sector) - sector / 2); // [0, 36 deg]
    float qx = r * std::cos(phi), qy = r * std::sin(phi);
    float bx = inner * std::cos(sector / 2), by = inner * std::sin(sector / 2);
    float dx = bx - 1.f, dy = by;
    return dx * qy - dy * (qx - 1.f) >= 0.f; // cross(B - A, Q - A) has the origin's sign (+)
}

bool box(float u, float v, float u0, float u1, float v0, float v1) {
    return u >= u0 && u <= u1 && v >= v0 && v <= v1;
}

} // namespace

int shape_count() { return kCount; }

const char* shape_name(int shape) {
    PG_CHECK(shape >= 0 && shape < kCount, "synth: shape ", shape, " is not in the catalogue of ",
             kCount, " shapes");
    return kNames[shape];
}

bool shape_contains(int shape, float u, float v, float param) {
    float r2 = u * u + v * v;
    float m = std::fmax(std::fabs(u), std::fabs(v)); // Chebyshev norm: squares
    switch (shape) {
    case 0:
        return r2 <= 1.f; // disc
    case 1: {             // ring: an annulus whose hole shows what lies underneath
        float inner = lerp(0.45f, 0.65f, param);
        return r2 <= 1.f && r2 >= inner * inner;
    }
    case 2:
        return m <= 0.8f; // square
    case 3: {             // frame: a hollow square, its walls about as thick as the ring's
        float inner = 0.8f * lerp(0.4f, 0.55f, param);
        return m <= 0.8f && m >= inner;
    }
    case 4:
        return regular_polygon(u, v, 3); // equilateral triangle
    case 5: {                            // cross (plus sign)
        float arm = lerp(0.22f, 0.32f, param);
        return (std::fabs(u) <= arm && std::fabs(v) <= 0.9f) ||
               (std::fabs(v) <= arm && std::fabs(u) <= 0.9f);
    }
    case 6:
        return star(u, v, lerp(0.38f, 0.5f, param));
    case 7:
        return std::fabs(u) <= 1.f && std::fabs(v) <= lerp(0.18f, 0.3f, param); // bar
    case 8:
        return regular_polygon(u, v, 6); // hexagon
    case 9: {                            // ellipse
        float b = lerp(0.45f, 0.62f, param);
        return u * u + (v / b) * (v / b) <= 1.f;
    }
    case 10:
        return (u * u + (v + 0.3f) * (v + 0.3f) <= 1.f) && v >= -0.3f; // half disc
    case 11: {                                                         // crescent
        float shift = lerp(0.45f, 0.6f, param);
        return r2 <= 1.f && (u - shift) * (u - shift) + v * v >= 0.72f;
    }
    case 12: { // L: a vertical and a horizontal bar sharing the bottom-left corner
        float w = lerp(0.45f, 0.6f, param);
        return box(u, v, -0.8f, -0.8f + w, -0.8f, 0.8f) || box(u, v, -0.8f, 0.8f, -0.8f, -0.8f + w);
    }
    case 13: { // T: a top bar over a centred stem
        float w = lerp(0.4f, 0.55f, param);
        return box(u, v, -0.8f, 0.8f, 0.8f - w, 0.8f) || box(u, v, -w / 2, w / 2, -0.8f, 0.8f);
    }
    case 14: { // arrow pointing right: a shaft and a triangular head
        float half = lerp(0.14f, 0.22f, param);
        bool shaft = box(u, v, -0.9f, 0.15f, -half, half);
        bool head = u >= 0.1f && u <= 0.9f && std::fabs(v) <= 0.6f * (0.9f - u) / 0.8f;
        return shaft || head;
    }
    default:
        PG_FAIL("synth: shape ", shape, " is not in the catalogue of ", kCount, " shapes");
    }
}

} // namespace pg::seg::synth
