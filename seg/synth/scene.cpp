// Rendering of one synthetic scene (seg/synth/scene.h). Order of work, which is also the order of
// random draws (so a seed always gives the same scene): background, clutter under the objects,
// the objects back to front, an optional curve over them, then the labels (void band, tiny
// fragments voided, tags) and, for the target style, colour shift, blur and noise.
#include "seg/synth/scene.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "seg/synth/shapes.h"
#include "seg/synth/texture.h"
#include "tensor/error.h"

namespace pg::seg::synth {

namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kMinContrast = 70.f; // RGB distance between an object and the colours under it

// The image being drawn: float colours and, per pixel, which object is on top.
struct Canvas {
    int height = 0, width = 0;
    std::vector<float> rgb;     // (H, W, 3)
    std::vector<int16_t> layer; // (H, W): 0 background (and clutter), k the k-th object drawn
};

// Where a shape goes: centre (pixels), radius (pixels), rotation and a mild anisotropy.
struct Placement {
    float cx = 0, cy = 0, radius = 1, cos_a = 1, sin_a = 0, sx = 1, sy = 1;
};

// How a shape is coloured: flat, or (target style) modulated by a texture around its colour.
struct Fill {
    Rgb colour{};
    Texture texture;       // default-constructed: flat (samples 0.5)
    float amplitude = 0.f; // colour x (1 + amplitude (2t - 1)), t the texture value
};

using Inside = std::function<bool(float u, float v)>; // membership in the shape's own frame

Placement random_placement(Generator& gen, float cx, float cy, float radius, float anisotropy) {
    Placement p;
    p.cx = cx;
    p.cy = cy;
    p.radius = radius;
    float angle = gen.uniform(0.f, 2 * kPi);
    p.cos_a = std::cos(angle);
    p.sin_a = std::sin(angle);
    p.sx = gen.uniform(1.f - anisotropy, 1.f + anisotropy);
    p.sy = gen.uniform(1.f - anisotropy, 1.f + anisotropy);
    return p;
}

// Paints every pixel whose centre maps inside the shape; layer >= 0 also claims the pixel's label
// layer (objects), layer < 0 paints colour only and resets the layer to background (curves over
// objects are background in the labels).
void paint(Canvas& canvas, const Placement& p, const Inside& inside, const Fill& fill, int layer) {
    float reach = 1.2f * p.radius * std::max(p.sx, p.sy); // every shape fits in radius 1.15
    int x0 = std::max(0, int(std::floor(p.cx - reach))),
        x1 = std::min(canvas.width - 1, int(p.cx + reach));
    int y0 = std::max(0, int(std::floor(p.cy - reach))),
        y1 = std::min(canvas.height - 1, int(p.cy + reach));
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            float dx = float(x) + 0.5f - p.cx, dy = float(y) + 0.5f - p.cy;
            float u = (p.cos_a * dx + p.sin_a * dy) / (p.radius * p.sx);
            float v = (-p.sin_a * dx + p.cos_a * dy) / (p.radius * p.sy);
            if (!inside(u, v)) continue;
            size_t i = size_t(y) * size_t(canvas.width) + size_t(x);
            float gain = 1.f;
            if (fill.amplitude > 0.f)
                gain = 1.f + fill.amplitude * (2.f * fill.texture.sample(float(x), float(y)) - 1.f);
            for (int c = 0; c < 3; c++)
                canvas.rgb[3 * i + size_t(c)] = fill.colour[size_t(c)] * gain;
            canvas.layer[i] = int16_t(std::max(layer, 0));
        }
    }
}

// A smooth irregular blob (clutter): radius 1 + a1 sin(2 theta + p1) + a2 sin(3 theta + p2).
Inside random_blob(Generator& gen) {
    float a1 = gen.uniform(0.2f, 0.35f), p1 = gen.uniform(0.f, 2 * kPi);
    float a2 = gen.uniform(0.1f, 0.2f), p2 = gen.uniform(0.f, 2 * kPi);
    return [=](float u, float v) {
        float theta = std::atan2(v, u);
        float r = 0.75f * (1.f + a1 * std::sin(2 * theta + p1) + a2 * std::sin(3 * theta + p2));
        return u * u + v * v <= r * r;
    };
}

// A thin wavy curve (clutter) along u in [-1, 1]: |v - A sin(w u + phase)| <= half width, where
// the width is given in pixels and the frame's unit is `radius` pixels.
Inside random_curve(Generator& gen, float radius) {
    float amplitude = gen.uniform(0.1f, 0.3f), freq = gen.uniform(3.f, 8.f);
    float phase = gen.uniform(0.f, 2 * kPi);
    float half = 0.5f * gen.uniform(1.2f, 2.6f) / radius;
    return [=](float u, float v) {
        return std::fabs(u) <= 1.f && std::fabs(v - amplitude * std::sin(freq * u + phase)) <= half;
    };
}

// Source style: flat. Target style: the colour modulated by a texture of its own.
Fill random_fill(Generator& gen, const SceneOptions& o, Rgb colour) {
    Fill fill;
    fill.colour = colour;
    if (o.style == Style::target) {
        fill.texture = Texture(gen, o.height, o.width, gen.uniform(3.f, 9.f));
        fill.amplitude = gen.uniform(0.15f, 0.35f);
    }
    return fill;
}

// Appends the colours it uses to `used` (objects keep their distance from them).
void draw_background(Canvas& canvas, Generator& gen, const SceneOptions& o,
                     std::vector<Rgb>& used) {
    used.push_back(background_colour(gen));
    if (o.style == Style::source) {
        for (size_t i = 0; i < canvas.layer.size(); i++)
            for (int c = 0; c < 3; c++) canvas.rgb[3 * i + size_t(c)] = used[0][size_t(c)];
        return;
    }
    // Target: two colours mixed by a texture.
    used.push_back(background_colour(gen));
    Texture texture(gen, o.height, o.width, gen.uniform(4.f, 14.f));
    for (int y = 0; y < canvas.height; y++)
        for (int x = 0; x < canvas.width; x++) {
            float t = texture.sample(float(x), float(y));
            size_t i = size_t(y) * size_t(canvas.width) + size_t(x);
            for (int c = 0; c < 3; c++)
                canvas.rgb[3 * i + size_t(c)] =
                    used[0][size_t(c)] * (1 - t) + used[1][size_t(c)] * t;
        }
}

// Returns the curve's colour.
Rgb draw_curve(Canvas& canvas, Generator& gen, const SceneOptions& o, int layer) {
    float side = float(std::min(o.height, o.width));
    // One draw per statement: the order of evaluation of function arguments is unspecified.
    float radius = side * gen.uniform(0.2f, 0.45f);
    float cx = gen.uniform(0.f, float(o.width));
    float cy = gen.uniform(0.f, float(o.height));
    Placement p = random_placement(gen, cx, cy, radius, 0.f);
    Inside inside = random_curve(gen, radius);
    Rgb colour = random_colour(gen);
    paint(canvas, p, inside, random_fill(gen, o, colour), layer);
    return colour;
}

void draw_clutter(Canvas& canvas, Generator& gen, const SceneOptions& o, std::vector<Rgb>& used) {
    int count = int(gen.randint(0, o.max_clutter + 1));
    float side = float(std::min(o.height, o.width));
    for (int k = 0; k < count; k++) {
        if (gen.uniform() < 0.5f) {
            used.push_back(draw_curve(canvas, gen, o, 0));
            continue;
        }
        float radius = side * std::exp(gen.uniform(std::log(o.min_size), std::log(o.max_size)));
        float cx = gen.uniform(0.f, float(o.width));
        float cy = gen.uniform(0.f, float(o.height));
        Placement p = random_placement(gen, cx, cy, radius, 0.f);
        Inside inside = random_blob(gen);
        Rgb colour = random_colour(gen);
        paint(canvas, p, inside, random_fill(gen, o, colour), 0);
        used.push_back(colour);
    }
}

void draw_objects(Canvas& canvas, Generator& gen, const SceneOptions& o, std::vector<Rgb>& used,
                  std::vector<SceneObject>& objects) {
    int count = int(gen.randint(o.min_objects, o.max_objects + 1));
    float side = float(std::min(o.height, o.width));
    for (int k = 0; k < count; k++) {
        SceneObject obj;
        obj.cls = int(gen.randint(1, o.num_classes));
        obj.cx = gen.uniform(0.f, float(o.width));
        obj.cy = gen.uniform(0.f, float(o.height));
        obj.radius = side * std::exp(gen.uniform(std::log(o.min_size), std::log(o.max_size)));
        Placement p = random_placement(gen, obj.cx, obj.cy, obj.radius, 0.12f);
        obj.angle = std::atan2(p.sin_a, p.cos_a);
        float param = gen.uniform();
        int shape = obj.cls - 1;
        Inside inside = [shape, param](float u, float v) {
            return shape_contains(shape, u, v, param);
        };
        Rgb colour = contrasting_colour(gen, used, kMinContrast);
        used.push_back(colour);
        for (int c = 0; c < 3; c++) obj.colour[c] = colour[size_t(c)];
        paint(canvas, p, inside, random_fill(gen, o, colour), k + 1);
        objects.push_back(obj);
    }
}

// Labels from the layer map. A pixel of object layer s is void when a pixel within Chebyshev
// distance void_width lies on a lower layer (background or an object drawn earlier): each visible
// outline gets a band on the upper object's side, like VOC's void outlines; objects with a radius
// under 8 x void_width px get none. Objects left with fewer than min_visible labelled pixels are
// voided, so the tags are exactly the classes present.
void make_labels(Scene& scene, const Canvas& canvas, const SceneOptions& o) {
    int h = canvas.height, w = canvas.width, r = o.void_width;
    scene.labels = LabelMap{h, w, std::vector<int32_t>(size_t(h) * size_t(w), 0)};
    std::vector<int64_t> visible(scene.objects.size() + 1, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = size_t(y) * size_t(w) + size_t(x);
            int s = canvas.layer[i];
            if (s == 0) continue;
            // Small objects keep every pixel: a band would eat a third of a 6-px disc.
            bool border = false, banded = scene.objects[size_t(s - 1)].radius >= 8.f * float(r);
            for (int yy = std::max(0, y - r); banded && yy <= std::min(h - 1, y + r) && !border;
                 yy++)
                for (int xx = std::max(0, x - r); xx <= std::min(w - 1, x + r); xx++)
                    if (canvas.layer[size_t(yy) * size_t(w) + size_t(xx)] < s) border = true;
            scene.labels.values[i] = border ? 255 : scene.objects[size_t(s - 1)].cls;
            if (!border) visible[size_t(s)]++;
        }
    for (size_t i = 0; i < canvas.layer.size(); i++) {
        int s = canvas.layer[i];
        if (s > 0 && visible[size_t(s)] < o.min_visible) scene.labels.values[i] = 255;
    }
    std::vector<bool> present(size_t(o.num_classes), false);
    for (size_t k = 0; k < scene.objects.size(); k++) {
        SceneObject& obj = scene.objects[k];
        obj.visible = visible[k + 1] >= o.min_visible ? visible[k + 1] : 0;
        if (obj.visible > 0) present[size_t(obj.cls)] = true;
    }
    for (int c = 1; c < o.num_classes; c++)
        if (present[size_t(c)]) scene.tags.push_back(c);
}

// The target domain's camera: desaturated, warm-tinted, hazy, blurred and noisy.
void apply_target_style(Canvas& canvas, Generator& gen) {
    float saturation = gen.uniform(0.45f, 0.8f), brightness = gen.uniform(0.75f, 1.05f);
    float haze = gen.uniform(5.f, 30.f);
    const float tint[3] = {1.08f, 0.97f, 0.82f};
    for (size_t i = 0; i < canvas.layer.size(); i++) {
        float* px = &canvas.rgb[3 * i];
        float lum = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
        for (int c = 0; c < 3; c++)
            px[c] = brightness * tint[c] * (lum + saturation * (px[c] - lum)) + haze;
    }
    gaussian_blur(canvas.rgb, canvas.height, canvas.width, gen.uniform(0.5f, 1.1f));
    add_noise(canvas.rgb, gen, gen.uniform(3.f, 9.f));
}

} // namespace

Style parse_style(const std::string& name) {
    if (name == "source") return Style::source;
    if (name == "target") return Style::target;
    PG_FAIL("synth: unknown style '", name, "'; expected source or target");
}

const char* style_name(Style style) { return style == Style::source ? "source" : "target"; }

void check_scene_options(const SceneOptions& o) {
    PG_CHECK(o.height >= 8 && o.width >= 8 && o.height <= 4096 && o.width <= 4096,
             "synth: image size ", o.height, "x", o.width, " is outside 8..4096");
    PG_CHECK(o.num_classes >= 2 && o.num_classes <= shape_count() + 1, "synth: ", o.num_classes,
             " classes requested; the catalogue allows 2..", shape_count() + 1,
             " (background + shapes)");
    PG_CHECK(o.min_objects >= 0 && o.max_objects >= o.min_objects && o.max_objects <= 1000,
             "synth: objects per image ", o.min_objects, "..", o.max_objects,
             " is not a range in 0..1000");
    PG_CHECK(o.min_size > 0.f && o.max_size >= o.min_size && o.max_size <= 2.f,
             "synth: object size ", o.min_size, "..", o.max_size, " is not a range in (0, 2]");
    PG_CHECK(o.void_width >= 0 && o.void_width <= 16, "synth: void width ", o.void_width,
             " is outside 0..16");
    PG_CHECK(o.max_clutter >= 0 && o.min_visible >= 0, "synth: clutter ", o.max_clutter,
             " and min_visible ", o.min_visible, " must be >= 0");
}

uint64_t scene_seed(uint64_t world_seed, uint64_t stream, uint64_t index) {
    // Two Philox rounds: (stream, world seed) -> a per-stream key, then (index, key) -> the seed.
    PhiloxBlock key = philox4x32(stream, world_seed);
    PhiloxBlock out = philox4x32(index, uint64_t(key.v[0]) << 32 | key.v[1]);
    return uint64_t(out.v[0]) << 32 | out.v[1];
}

Scene render_scene(const SceneOptions& o, uint64_t seed) {
    check_scene_options(o);
    Generator gen(seed);
    Canvas canvas;
    canvas.height = o.height;
    canvas.width = o.width;
    canvas.rgb.assign(size_t(o.height) * size_t(o.width) * 3, 0.f);
    canvas.layer.assign(size_t(o.height) * size_t(o.width), 0);
    std::vector<Rgb> used; // colours drawn so far
    Scene scene;
    draw_background(canvas, gen, o, used);
    draw_clutter(canvas, gen, o, used);
    draw_objects(canvas, gen, o, used, scene.objects);
    if (gen.uniform() < o.over_stroke) draw_curve(canvas, gen, o, -1);
    make_labels(scene, canvas, o);
    if (o.style == Style::target) apply_target_style(canvas, gen);
    scene.image = Image{o.height, o.width, 3, std::vector<uint8_t>(canvas.rgb.size())};
    for (size_t i = 0; i < canvas.rgb.size(); i++)
        scene.image.pixels[i] = uint8_t(std::clamp(std::lround(canvas.rgb[i]), 0L, 255L));
    return scene;
}

} // namespace pg::seg::synth
