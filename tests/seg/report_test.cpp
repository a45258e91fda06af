// The run report (seg/report.h, seg/svg_chart.h, `pixelgrad report`): base64 against the RFC 4648
// vectors, thinning and ticks, and whole pages rendered from temporary run directories: one
// <svg> per chart, one polyline point per finite value, escaped names, images that decode back
// to the PNG bytes, and pages that say what is missing instead of failing.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "seg/cli/report_command.h"
#include "seg/data/image_io.h"
#include "seg/report.h"
#include "seg/svg_chart.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/seg/cli_helpers.h"

namespace pg::seg {
namespace {

namespace fs = std::filesystem;

// An empty directory under the test temp dir.
std::string fresh_dir(const std::string& name) {
    fs::path dir = fs::path(::testing::TempDir()) / ("pg_report_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

size_t count_of(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) n++;
    return n;
}

// The points of the polyline named `name`, as "x,y" strings.
std::vector<std::string> polyline_points(const std::string& html, const std::string& name) {
    size_t at = html.find("<polyline data-name=\"" + name + "\"");
    if (at == std::string::npos) return {};
    size_t begin = html.find("points=\"", at) + 8, end = html.find('"', begin);
    std::istringstream in(html.substr(begin, end - begin));
    std::vector<std::string> points;
    for (std::string p; in >> p;) points.push_back(p);
    return points;
}

// The test's own decoder, so the encoder is checked against something it does not share.
std::string base64_decode(const std::string& text) {
    const std::string table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        if (c == '=') break;
        bits = bits << 6 | uint32_t(table.find(c));
        if ((count += 6) >= 8) out += char((bits >> (count -= 8)) & 0xff);
    }
    return out;
}

// The base64 payloads of every data:image/png URI, in page order.
std::vector<std::string> data_uris(const std::string& html) {
    const std::string prefix = "src=\"data:image/png;base64,";
    std::vector<std::string> uris;
    for (size_t at = html.find(prefix); at != std::string::npos; at = html.find(prefix, at + 1)) {
        size_t begin = at + prefix.size();
        uris.push_back(html.substr(begin, html.find('"', begin) - begin));
    }
    return uris;
}

TEST(Report, Base64KnownVectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(std::string("\xff\x00\xfe", 3)), "/wD+"); // high bytes, a zero byte
    EXPECT_EQ(base64_decode(base64_encode("foobar!")), "foobar!");
}

TEST(Report, ThinningKeepsTheEndsAndAveragesBuckets) {
    ChartSeries s{"loss", {}, {}};
    for (int i = 0; i < 5000; i++) s.x.push_back(i), s.y.push_back(2.0 * i + 1);
    s.y[17] = NAN;
    s.x[18] = INFINITY;
    ChartSeries thin = thin_series(s, 1000);
    ASSERT_EQ(thin.x.size(), 1000u);
    ASSERT_EQ(thin.y.size(), 1000u);
    EXPECT_EQ(thin.x.front(), 0.0);
    EXPECT_EQ(thin.x.back(), 4999.0);
    // On a line, every bucket mean lies on the same line; x keeps increasing.
    for (size_t i = 0; i < thin.x.size(); i++) {
        EXPECT_NEAR(thin.y[i], 2 * thin.x[i] + 1, 1e-9) << i;
        if (i > 0) { EXPECT_GT(thin.x[i], thin.x[i - 1]) << i; }
    }
    // Short series only lose their non-finite points.
    ChartSeries small{"lr", {1, 2, 3, 4}, {0.5, NAN, 0.25, 0.125}};
    ChartSeries kept = thin_series(small, 1000);
    EXPECT_EQ(kept.x, (std::vector<double>{1, 3, 4}));
    EXPECT_EQ(kept.y, (std::vector<double>{0.5, 0.25, 0.125}));
}

TEST(Report, NiceTicksAndLabels) {
    EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
    std::vector<double> t = nice_ticks(13, 487, 5); // step 100, rounded out to 0 .. 500
    EXPECT_EQ(t, (std::vector<double>{0, 100, 200, 300, 400, 500}));
    EXPECT_EQ(format_tick(0.6000000000000001, 0.2), "0.6");
    EXPECT_EQ(format_tick(0.002, 0.002), "0.002");
    EXPECT_EQ(format_tick(-1e-18, 0.5), "0.0");
    EXPECT_EQ(format_tick(120, 20), "120");
    EXPECT_EQ(format_tick(20000, 5000), "20k");
    EXPECT_EQ(format_tick(0, 5000), "0");
    EXPECT_EQ(format_tick(2500, 500), "2500");
    EXPECT_EQ(format_tick(2e6, 5e5), "2.0M");
    EXPECT_EQ(format_tick(3e-5, 1e-5), "3e-05");
}

TEST(Report, LineChartHasAPolylinePerSeriesAndEscapesNames) {
    ChartSpec spec{"loss & <friends>", "step", "loss", {}};
    spec.series.push_back({"a<b", {0, 1, 2}, {1, 0.5, 0.25}});
    spec.series.push_back({"c", {0, 2}, {2, NAN}});
    std::string svg = line_chart(spec);
    EXPECT_EQ(count_of(svg, "<svg"), 1u);
    EXPECT_EQ(count_of(svg, "<polyline"), 2u);
    EXPECT_EQ(polyline_points(svg, "a&lt;b").size(), 3u);
    EXPECT_EQ(polyline_points(svg, "c").size(), 1u); // the NaN point is left out
    EXPECT_NE(svg.find("loss &amp; &lt;friends&gt;"), std::string::npos);
    EXPECT_EQ(svg.find("<friends>"), std::string::npos);
    EXPECT_EQ(svg.find("no data"), std::string::npos);
    EXPECT_EQ(count_of(svg, "stroke-width=\"3\""), 2u); // a legend swatch per series
    ChartSpec one{"lr", "step", "", {{"lr", {0, 1}, {1, 2}}}};
    EXPECT_EQ(count_of(line_chart(one), "stroke-width=\"3\""), 0u); // the title names it
    ChartSpec empty{"nothing", "step", "", {{"x", {1}, {NAN}}}};
    EXPECT_NE(line_chart(empty).find("no data"), std::string::npos);
}

// A run with 30 train rows (two loss terms, one NaN, one null), 3 validations, 2 malformed
// lines, an eval.json with an absent class and a class named "<&>", and two overlays.
TEST(Report, FullRunRendersChartsTableImagesAndConfig) {
    std::string dir = fresh_dir("full");
    std::ostringstream m;
    for (int i = 0; i < 30; i++) {
        int step = 10 * (i + 1);
        std::string unsup = i == 7 ? "NaN" : i == 8 ? "null" : std::to_string(0.5 - 0.01 * i);
        m << "{\"type\":\"train\",\"step\":" << step << ",\"epoch\":" << i / 10
          << ",\"lr\":" << 0.01 * (1 - i / 30.0) << ",\"loss\":" << 1.5 - 0.02 * i
          << ",\"losses\":{\"sup\":" << 1.0 - 0.01 * i << ",\"unsup\":" << unsup
          << "},\"it_per_s\":4.2,\"mem_mb\":512" << (i >= 20 ? ",\"drop_percent\":80" : "")
          << ",\"note\":\"text is not charted\"}\n";
        if (i == 3) m << "{\"type\":\"train\",\"step\":\n";   // cut off mid-write
        if (i == 4) m << "{\"type\":\"train\",\"loss\":1}\n"; // no step
        if (i == 5) m << "\n";                                // blank: not counted
        if (i % 10 == 9)
            m << "{\"type\":\"eval\",\"step\":" << step << ",\"miou\":" << (i == 19 ? 0.5 : 0.3)
              << ",\"pixel_accuracy\":0.8,\"iou\":[0.9,null,0.1]}\n";
    }
    write_text(fs::path(dir) / "metrics.jsonl", m.str());
    write_text(fs::path(dir) / "eval.json",
               R"({"miou":0.5,"pixel_accuracy":0.9,"iou":[0.9,null,0.1],)"
               R"("class_names":["background","<&>","cat"],"mode":"sliding","checkpoint":"best"})");
    write_text(fs::path(dir) / "config.yaml", "trainer:\n  epochs: 3 # <b>&co</b>\n");
    fs::create_directories(fs::path(dir) / "overlays");
    for (int k = 0; k < 2; k++) {
        Image image{2, 3, 3, std::vector<uint8_t>(18, uint8_t(40 + 100 * k))};
        write_png((fs::path(dir) / "overlays" / (k ? "0001.png" : "0002.png")).string(), image);
    }

    write_report(dir);
    EXPECT_FALSE(fs::exists(fs::path(dir) / "report.html.tmp"));
    std::string html = read_text(fs::path(dir) / "report.html");
    ASSERT_FALSE(html.empty());
    // Charts: loss, lr, validation, and one each for it_per_s, mem_mb, drop_percent.
    EXPECT_EQ(count_of(html, "<svg"), 6u);
    EXPECT_EQ(polyline_points(html, "sup").size(), 30u);
    EXPECT_EQ(polyline_points(html, "unsup").size(), 28u); // NaN and null skipped
    EXPECT_EQ(polyline_points(html, "total").size(), 30u);
    EXPECT_EQ(polyline_points(html, "lr").size(), 30u);
    EXPECT_EQ(polyline_points(html, "mIoU").size(), 3u);
    EXPECT_EQ(polyline_points(html, "drop_percent").size(), 10u);
    EXPECT_TRUE(polyline_points(html, "note").empty());
    // All charts share the run's steps (10 .. 300 -> axis 0 .. 300 over 62 .. 464 px): the
    // drop_percent curve starts at step 210, not at the left edge.
    EXPECT_EQ(polyline_points(html, "drop_percent")[0].substr(0, 6), "343.4,");
    // Header and notes.
    EXPECT_NE(html.find("<h1>pg_report_full</h1>"), std::string::npos);
    EXPECT_NE(html.find("50.00 %</b> at step 200"), std::string::npos);
    // The last validation when it is not the best; eval.json named as the best checkpoint's.
    EXPECT_NE(html.find("last val mIoU</td><td>30.00 % at step 300"), std::string::npos);
    EXPECT_NE(html.find("<h2>Per-class IoU (best checkpoint's eval)</h2>"), std::string::npos);
    EXPECT_EQ(html.find("final"), std::string::npos);
    EXPECT_NE(html.find("step 300, epoch 2"), std::string::npos);
    EXPECT_NE(html.find("2 malformed line(s)"), std::string::npos);
    EXPECT_NE(html.find("sliding"), std::string::npos);
    EXPECT_EQ(html.find("is missing"), std::string::npos);
    // The IoU table: escaped names, the absent class, the bars.
    EXPECT_NE(html.find("<td>&lt;&amp;&gt;</td><td class=\"absent\">absent</td>"),
              std::string::npos);
    EXPECT_EQ(html.find("<&>"), std::string::npos);
    EXPECT_NE(html.find("90.00 %"), std::string::npos);
    EXPECT_NE(html.find("style=\"width:10.0%\""), std::string::npos);
    // Images in file-name order, decoding back to the PNG files.
    std::vector<std::string> uris = data_uris(html);
    ASSERT_EQ(uris.size(), 2u);
    EXPECT_EQ(base64_decode(uris[0]), read_text(fs::path(dir) / "overlays" / "0001.png"));
    EXPECT_EQ(base64_decode(uris[1]), read_text(fs::path(dir) / "overlays" / "0002.png"));
    EXPECT_LT(html.find("0001.png"), html.find("0002.png"));
    // The config, escaped; nothing fetched from elsewhere.
    EXPECT_NE(html.find("epochs: 3 # &lt;b&gt;&amp;co&lt;/b&gt;"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("href="), std::string::npos);
    EXPECT_EQ(html.find("src=\"http"), std::string::npos);
}

TEST(Report, LongRunsAreThinned) {
    std::string dir = fresh_dir("long");
    std::ostringstream m;
    for (int i = 0; i < 2500; i++)
        m << "{\"type\":\"train\",\"step\":" << i << ",\"loss\":" << 1.0 / (1 + i) << "}\n";
    write_text(fs::path(dir) / "metrics.jsonl", m.str());
    write_report(dir);
    std::string html = read_text(fs::path(dir) / "report.html");
    std::vector<std::string> points = polyline_points(html, "loss");
    ASSERT_EQ(points.size(), 1000u);
    // The first and last points are the first and last steps: the plot's left and right edges
    // (x ticks 0 .. 2500 span the 62 .. 704 px plot; 2499 sits 0.26 px before the edge).
    EXPECT_EQ(points.front().substr(0, points.front().find(',')), "62.0");
    EXPECT_EQ(points.back().substr(0, points.back().find(',')), "703.7");
    EXPECT_LT(html.size(), 200000u);
}

// AdvSemiSeg's D loss: its chart shades the healthy band 0.2-0.5 and a line above the charts says
// how much of the run's second half left it (0.3 for 15 of 20 rows, then 0.01: D wins in half of the second half).
TEST(Report, DiscriminatorLossOutsideItsBandIsFlagged) {
    auto page = [](const std::string& name, double late_value) {
        std::string dir = fresh_dir(name);
        std::ostringstream m;
        for (int i = 0; i < 20; i++)
            m << "{\"type\":\"train\",\"step\":" << i * 10
              << ",\"loss\":1,\"loss_discriminator\":" << (i < 15 ? 0.3 : late_value) << "}\n";
        write_text(fs::path(dir) / "metrics.jsonl", m.str());
        write_report(dir);
        return read_text(fs::path(dir) / "report.html");
    };
    std::string bad = page("d_band_bad", 0.01);
    EXPECT_EQ(count_of(bad, "class=\"band\""), 1u);
    EXPECT_NE(bad.find("D loss outside its healthy band (0.2-0.5)</b> at 50% of the logged steps "
                       "of the second half: 50% below"),
              std::string::npos);
    std::string good = page("d_band_good", 0.3);
    EXPECT_EQ(count_of(good, "class=\"band\""), 1u);
    EXPECT_EQ(good.find("outside its healthy band"), std::string::npos);
    EXPECT_NE(good.find("D loss inside its healthy band"), std::string::npos);
}

TEST(Report, MissingAndEmptyFilesAreReported) {
    std::string dir = fresh_dir("empty");
    std::vector<std::string> notes = write_report(dir); // the page's notes, for the command
    EXPECT_EQ(notes, (std::vector<std::string>{
                         "metrics.jsonl is missing: no curves",
                         "eval.json is missing: no evaluation of the best checkpoint yet",
                         "config.yaml is missing", "overlays/ is missing: no sample images"}));
    std::string html = read_text(fs::path(dir) / "report.html");
    EXPECT_NE(html.find("metrics.jsonl is missing"), std::string::npos);
    EXPECT_NE(html.find("eval.json is missing"), std::string::npos);
    EXPECT_NE(html.find("config.yaml is missing"), std::string::npos);
    EXPECT_NE(html.find("overlays/ is missing"), std::string::npos);
    EXPECT_EQ(count_of(html, "<svg"), 0u);

    write_text(fs::path(dir) / "metrics.jsonl", "");
    write_text(fs::path(dir) / "eval.json", "{\"miou\": 0.4,"); // truncated
    fs::create_directories(fs::path(dir) / "overlays");
    write_text(fs::path(dir) / "overlays" / "broken.png", "not a png");
    write_report(dir);
    html = read_text(fs::path(dir) / "report.html");
    EXPECT_NE(html.find("metrics.jsonl has no rows"), std::string::npos);
    EXPECT_NE(html.find("eval.json is not a JSON object"), std::string::npos);
    EXPECT_NE(html.find("overlays/broken.png is not a readable PNG"), std::string::npos);
    EXPECT_EQ(count_of(html, "<svg"), 0u);
    EXPECT_TRUE(data_uris(html).empty());

    // Validation rows only, no eval.json: the table comes from the last validation.
    write_text(fs::path(dir) / "metrics.jsonl",
               "{\"type\":\"eval\",\"step\":5,\"miou\":0.25,\"iou\":[0.5,0.0]}\n");
    fs::remove(fs::path(dir) / "eval.json");
    write_report(dir);
    html = read_text(fs::path(dir) / "report.html");
    EXPECT_EQ(count_of(html, "<svg"), 1u);
    EXPECT_NE(html.find("Per-class IoU (last validation)"), std::string::npos);
    EXPECT_NE(html.find("<td>class 1</td><td class=\"num\">0.00 %</td>"), std::string::npos);
}

TEST(Report, CommandWritesThePageAndNamesAMissingDirectory) {
    std::string dir = fresh_dir("cli");
    ReportArgs args;
    args.run_dir = dir;
    // A folder with none of a run's files is not taken for one (a page would land anywhere).
    test::expect_error([&] { run_report(args); }, dir + " holds none of a run's files");
    EXPECT_FALSE(fs::exists(fs::path(dir) / "report.html"));
    write_text(fs::path(dir) / "metrics.jsonl", "{\"type\":\"train\",\"step\":1,\"loss\":1}\n");
    std::string path = run_report(args);
    EXPECT_EQ(path, (fs::path(dir) / "report.html").string());
    EXPECT_TRUE(fs::exists(path));
    args.run_dir = dir + "/no_such_run";
    test::expect_error([&] { run_report(args); }, dir + "/no_such_run' does not exist");
    args.run_dir_option = dir;
    test::expect_error([&] { run_report(args); }, "two run directories");
    // The binary takes the folder as train does too, and says what the page notes (a line of
    // metrics.jsonl cut by a crash is skipped, the page still written).
    write_text(fs::path(dir) / "metrics.jsonl",
               "{\"type\":\"train\",\"step\":1,\"loss\":1}\n{\"type\":\"tr");
    CliResult r = run_pixelgrad({"report", "--run-dir", dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("report: note: 1 malformed line(s) of metrics.jsonl skipped"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("report: " + path), std::string::npos) << r.output;
    r = run_pixelgrad({"report"});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("give the run directory (pixelgrad report RUN_DIR)"), std::string::npos)
        << r.output;
}

} // namespace
} // namespace pg::seg
