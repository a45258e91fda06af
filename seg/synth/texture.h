// Colours, procedural textures and image degradations for the synthetic world: the colour
// distribution shared by every class, value-noise / stripe / check textures, Gaussian blur and
// pixel noise. All randomness comes from the caller's pg::Generator, in a fixed order.
#pragma once

#include <array>
#include <vector>

#include "tensor/generator.h"

namespace pg::seg::synth {

using Rgb = std::array<float, 3>; // 0..255, unclamped while rendering

// One draw of the colour distribution shared by EVERY object class and the clutter (hue uniform,
// saturation and value bounded away from grey and black), so colour never tells the class, and
// vivid clutter can only be told from objects by its shape.
Rgb random_colour(Generator& gen);
// The background's muted colours (saturation <= 0.3): a fair cue for "not an object" that a small
// network picks up fast, as real backgrounds (sky, road, walls) are duller than things. The target
// style's desaturation weakens it: part of the domain gap.
Rgb background_colour(Generator& gen);
// Draws random_colour until it is at least `min_distance` (RGB L2) from each of `avoid`; after 16
// tries the draw farthest from its nearest `avoid` is kept. Objects stay visible on what they
// cover; the rule ignores the class, so colour still says nothing about it.
Rgb contrasting_colour(Generator& gen, const std::vector<Rgb>& avoid, float min_distance);

// A random texture in [0, 1] over the image plane: smooth value noise (two octaves), stripes
// (a rotated sine, slightly wobbled by noise) or soft checks. Built once, sampled per pixel.
class Texture {
  public:
    Texture() = default;
    // height, width: the image the texture covers; scale: typical feature size in pixels.
    Texture(Generator& gen, int height, int width, float scale);
    float sample(float x, float y) const;

  private:
    // Value noise: a (gh, gw) lattice of uniform values, bilinear with a smoothstep.
    float noise(float x, float y, float cell, int octave) const;

    int kind_ = 0; // 0 blotches, 1 stripes, 2 checks
    float scale_ = 8.f, angle_ = 0.f, phase_ = 0.f;
    int gh_ = 0, gw_ = 0;
    std::vector<float> lattice_; // (2, gh, gw): one lattice per octave
};

// In-place separable Gaussian blur of an (H, W, 3) float image, edges clamped; sigma <= 0: no-op.
void gaussian_blur(std::vector<float>& rgb, int height, int width, float sigma);
// Adds N(0, sigma^2) to every sample of an (H, W, 3) float image.
void add_noise(std::vector<float>& rgb, Generator& gen, float sigma);

} // namespace pg::seg::synth
