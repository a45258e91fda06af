// Colours, textures, blur and noise of the synthetic world (seg/synth/texture.h).
#include "seg/synth/texture.h"

#include <algorithm>
#include <cmath>

namespace pg::seg::synth {

namespace {
constexpr float kPi = 3.14159265358979f;

// HSV (h in [0, 1), s, v in [0, 1]) -> RGB in 0..255.
Rgb hsv_to_rgb(float h, float s, float v) {
    float h6 = h * 6.f;
    int sector = int(h6) % 6;
    float f = h6 - std::floor(h6);
    float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float r = 0, g = 0, b = 0;
    switch (sector) {
    case 0:
        r = v, g = t, b = p;
        break;
    case 1:
        r = q, g = v, b = p;
        break;
    case 2:
        r = p, g = v, b = t;
        break;
    case 3:
        r = p, g = q, b = v;
        break;
    case 4:
        r = t, g = p, b = v;
        break;
    default:
        r = v, g = p, b = q;
        break;
    }
    return {255 * r, 255 * g, 255 * b};
}

float distance(const Rgb& a, const Rgb& b) {
    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return std::sqrt(d0 * d0 + d1 * d1 + d2 * d2);
}

float smoothstep(float t) { return t * t * (3 - 2 * t); }
} // namespace

Rgb random_colour(Generator& gen) {
    float h = gen.uniform(), s = gen.uniform(0.35f, 1.f), v = gen.uniform(0.35f, 1.f);
    return hsv_to_rgb(h, s, v);
}

Rgb background_colour(Generator& gen) {
    float h = gen.uniform(), s = gen.uniform(0.f, 0.3f), v = gen.uniform(0.2f, 0.85f);
    return hsv_to_rgb(h, s, v);
}

Rgb contrasting_colour(Generator& gen, const std::vector<Rgb>& avoid, float min_distance) {
    Rgb best{};
    float best_distance = -1.f;
    for (int attempt = 0; attempt < 16 && best_distance < min_distance; attempt++) {
        Rgb c = random_colour(gen);
        float nearest = 1e9f;
        for (const Rgb& a : avoid) nearest = std::min(nearest, distance(c, a));
        if (nearest > best_distance) best = c, best_distance = nearest;
    }
    return best;
}

Texture::Texture(Generator& gen, int height, int width, float scale) {
    kind_ = int(gen.randint(0, 3));
    scale_ = scale;
    angle_ = gen.uniform(0.f, kPi);
    phase_ = gen.uniform(0.f, 2 * kPi);
    // Lattice covering the image at the coarse octave (cell = scale) with one cell of margin.
    gh_ = int(float(height) / scale) + 3;
    gw_ = int(float(width) / scale) + 3;
    lattice_.resize(size_t(2) * size_t(gh_) * size_t(gw_));
    for (float& value : lattice_) value = gen.uniform();
}

float Texture::noise(float x, float y, float cell, int octave) const {
    float gx = x / cell, gy = y / cell;
    int x0 = int(gx), y0 = int(gy);
    float fx = smoothstep(gx - float(x0)), fy = smoothstep(gy - float(y0));
    // The finer octave wraps around its lattice (it has twice as many cells).
    auto at = [&](int yy, int xx) {
        const float* grid = lattice_.data() + size_t(octave) * size_t(gh_) * size_t(gw_);
        return grid[size_t(yy % gh_) * size_t(gw_) + size_t(xx % gw_)];
    };
    float top = at(y0, x0) + (at(y0, x0 + 1) - at(y0, x0)) * fx;
    float bottom = at(y0 + 1, x0) + (at(y0 + 1, x0 + 1) - at(y0 + 1, x0)) * fx;
    return top + (bottom - top) * fy;
}

float Texture::sample(float x, float y) const {
    if (gh_ == 0) return 0.5f;
    float blotch = 0.65f * noise(x, y, scale_, 0) + 0.35f * noise(x, y, scale_ / 2, 1);
    if (kind_ == 0) return blotch;
    float c = std::cos(angle_), s = std::sin(angle_);
    float along = x * c + y * s, across = -x * s + y * c;
    float period = scale_ * 0.6f; // stripes a little finer than the blotches
    if (kind_ == 1) {
        float wobble = 2.f * (blotch - 0.5f);
        return 0.5f + 0.5f * std::sin(2 * kPi * along / period + phase_ + wobble);
    }
    float checks =
        std::sin(2 * kPi * along / period + phase_) * std::sin(2 * kPi * across / period + phase_);
    return std::clamp(0.5f + 0.8f * checks, 0.f, 1.f) * 0.8f + 0.2f * blotch;
}

void gaussian_blur(std::vector<float>& rgb, int height, int width, float sigma) {
    if (sigma <= 0.f) return;
    int radius = std::max(1, int(std::ceil(2.5f * sigma)));
    std::vector<float> kernel(size_t(2 * radius + 1));
    float total = 0;
    for (int k = -radius; k <= radius; k++) {
        kernel[size_t(k + radius)] = std::exp(-0.5f * float(k * k) / (sigma * sigma));
        total += kernel[size_t(k + radius)];
    }
    for (float& w : kernel) w /= total;
    std::vector<float> tmp(rgb.size());
    // Horizontal pass rgb -> tmp, then vertical pass tmp -> rgb; (H, W, 3) layout.
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int k = -radius; k <= radius; k++) {
                    int xx = std::clamp(x + k, 0, width - 1);
                    acc += kernel[size_t(k + radius)] * rgb[(size_t(y) * width + xx) * 3 + c];
                }
                tmp[(size_t(y) * width + x) * 3 + c] = acc;
            }
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int k = -radius; k <= radius; k++) {
                    int yy = std::clamp(y + k, 0, height - 1);
                    acc += kernel[size_t(k + radius)] * tmp[(size_t(yy) * width + x) * 3 + c];
                }
                rgb[(size_t(y) * width + x) * 3 + c] = acc;
            }
}

void add_noise(std::vector<float>& rgb, Generator& gen, float sigma) {
    for (float& v : rgb) v += sigma * gen.normal();
}

} // namespace pg::seg::synth
