// pixelgrad superpixels (--image PATH ... | --list FILE) --out DIR [--segments K |
//                       --pixels-per-superpixel P] [--compactness M] [--iterations N]
//                       [--min-size-factor F] [--force]
#include "seg/cli/superpixels_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "seg/correct/slic.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;

static std::vector<std::string> image_paths(const SuperpixelsArgs& a) {
    std::vector<std::string> paths = a.images;
    if (!a.list.empty()) {
        std::ifstream in(a.list);
        PG_CHECK(in.good(), "superpixels: cannot open the list ", a.list);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) paths.push_back(line);
    }
    PG_CHECK(!paths.empty(), "superpixels: no images (give --image or --list)");
    return paths;
}

// The picture with superpixel borders (a pixel whose right or lower neighbour differs) in yellow.
static Image outline(const Image& im, const Superpixels& s) {
    Image o = im;
    for (int y = 0; y < im.height; y++)
        for (int x = 0; x < im.width; x++) {
            size_t p = size_t(y) * im.width + x;
            bool border = (x + 1 < im.width && s.labels[p + 1] != s.labels[p]) ||
                          (y + 1 < im.height && s.labels[p + im.width] != s.labels[p]);
            if (border) o.pixels[p * 3] = 255, o.pixels[p * 3 + 1] = 230, o.pixels[p * 3 + 2] = 0;
        }
    return o;
}

int run_superpixels(const SuperpixelsArgs& a) {
    PG_CHECK(a.segments >= 0, "superpixels: --segments ", a.segments, " must be >= 0");
    PG_CHECK(a.pixels_per_superpixel >= 1, "superpixels: --pixels-per-superpixel ",
             a.pixels_per_superpixel, " must be >= 1");
    const std::vector<std::string> paths = image_paths(a);
    std::vector<std::string> outputs;
    for (const std::string& path : paths) {
        const std::string stem = (fs::path(a.out) / fs::path(path).stem()).string();
        outputs.insert(outputs.end(), {stem + ".png", stem + "_outline.png"});
    }
    check_outputs("superpixels", outputs, paths, a.force);
    fs::create_directories(a.out);
    int done = 0;
    for (const std::string& path : paths) {
        Image im = read_image(path);
        SlicOptions o{a.segments, a.compactness, a.iterations, a.min_size_factor};
        if (a.segments == 0)
            o.num_segments = segments_for_area(im.height, im.width, a.pixels_per_superpixel);
        Superpixels s = slic(im, o);
        PG_CHECK(s.count <= 65536, "superpixels: ", path, " has ", s.count,
                 " superpixels, more than a 16-bit PNG holds");
        std::string stem = (fs::path(a.out) / fs::path(path).stem()).string();
        write_png16(stem + ".png", {im.height, im.width, s.labels}, 1);
        write_png(stem + "_outline.png", outline(im, s));
        std::printf("%s: %d superpixels (requested %d)\n", path.c_str(), s.count, o.num_segments);
        done++;
    }
    return done;
}

std::function<void()> add_superpixels_command(CLI::App& app) {
    auto args = std::make_shared<SuperpixelsArgs>();
    CLI::App* cmd = app.add_subcommand("superpixels", "SLIC superpixels of images as id maps");
    cmd->add_option("--image", args->images, "an image (repeatable)");
    cmd->add_option("--list", args->list, "a file with one image path per line");
    cmd->add_option("--out", args->out, "output folder")->required();
    cmd->add_option("--segments", args->segments, "superpixels requested per image (K)");
    cmd->add_option("--pixels-per-superpixel", args->pixels_per_superpixel,
                    "K = H W / this when --segments is 0 (default 187.5: VOC's 1000 per 500x375)");
    cmd->add_option("--compactness", args->compactness, "SLIC's m (default 10)");
    cmd->add_option("--iterations", args->iterations, "k-means rounds (default 10)");
    cmd->add_option("--min-size-factor", args->min_size_factor,
                    "fragments under this x H W / K pixels join a neighbour (default 0.25)");
    cmd->add_flag("--force", args->force, "replace outputs that exist (never an input)");
    return [cmd, args] {
        if (cmd->parsed()) run_superpixels(*args);
    };
}

} // namespace pg::seg
