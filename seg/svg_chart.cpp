// Inline SVG line charts (seg/svg_chart.h). Layout of a chart, top to bottom: the title, legend
// rows, the plot area (grid, ticks, polylines) and the x label; the y label runs up the left side.
// Text widths are estimated (about 6.5 px per character at 11 px) since nothing measures fonts.
#include "seg/svg_chart.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

namespace pg::seg {

namespace {

// Tableau 10: distinguishable, and readable on white.
const char* const kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr int kNumColors = 10;

constexpr double kCharWidth = 6.5;                      // px per character at font-size 11
constexpr int kLeft = 62, kRight = 16, kBottom = 38;    // plot margins
constexpr int kTitleHeight = 22, kLegendRowHeight = 16; // rows above the plot
constexpr int kMarkerLimit = 40;                        // short series also get dots

std::string fmt(const char* format, double a, double b) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, a, b);
    return buf;
}

// Legend entries packed into rows that fit the chart width: row index of each series.
std::vector<int> legend_rows(const std::vector<ChartSeries>& series, int width, int* rows) {
    std::vector<int> row_of;
    double x = kLeft;
    int row = 0;
    for (const ChartSeries& s : series) {
        double w = 26 + kCharWidth * double(s.name.size()) + 14;
        if (x + w > width - kRight && x > kLeft) row++, x = kLeft;
        row_of.push_back(row);
        x += w;
    }
    *rows = series.empty() ? 0 : row + 1;
    return row_of;
}

// Ticks for a data range; an empty range (one value) is widened so it still has an extent.
std::vector<double> axis_ticks(double lo, double hi, int target) {
    if (!(hi > lo)) {
        double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    return nice_ticks(lo, hi, std::max(target, 2));
}

void write_legend(std::ostringstream& out, const std::vector<ChartSeries>& series, int width) {
    int rows = 0;
    std::vector<int> row_of = legend_rows(series, width, &rows);
    double x = kLeft;
    int row = 0;
    for (size_t i = 0; i < series.size(); i++) {
        if (row_of[i] != row) row = row_of[i], x = kLeft;
        double y = kTitleHeight + kLegendRowHeight * row + 8;
        out << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << x + 20 << "\" y2=\"" << y
            << "\" stroke=\"" << kColors[i % kNumColors] << "\" stroke-width=\"3\"/>";
        out << "<text x=\"" << x + 26 << "\" y=\"" << y + 4 << "\">" << html_escape(series[i].name)
            << "</text>";
        x += 26 + kCharWidth * double(series[i].name.size()) + 14;
    }
}

} // namespace

std::string html_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

ChartSeries thin_series(const ChartSeries& series, int max_points) {
    max_points = std::max(max_points, 3);
    ChartSeries out{series.name, {}, {}};
    size_t n = std::min(series.x.size(), series.y.size());
    for (size_t i = 0; i < n; i++) {
        if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
        out.x.push_back(series.x[i]);
        out.y.push_back(series.y[i]);
    }
    size_t count = out.x.size();
    if (count <= size_t(max_points)) return out;
    // Points 1 .. count-2 (m of them) go into `buckets` runs of consecutive points; m > buckets,
    // so every run holds at least one point.
    size_t m = count - 2, buckets = size_t(max_points) - 2;
    ChartSeries thin{series.name, {out.x.front()}, {out.y.front()}};
    for (size_t b = 0; b < buckets; b++) {
        size_t i0 = 1 + m * b / buckets, i1 = 1 + m * (b + 1) / buckets;
        double sx = 0, sy = 0;
        for (size_t i = i0; i < i1; i++) sx += out.x[i], sy += out.y[i];
        thin.x.push_back(sx / double(i1 - i0));
        thin.y.push_back(sy / double(i1 - i0));
    }
    thin.x.push_back(out.x.back());
    thin.y.push_back(out.y.back());
    return thin;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    double rough = (hi - lo) / std::max(target, 1);
    double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
    double n = rough / magnitude; // in [1, 10)
    double step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude;
    // Index of the first and last tick; the 1e-9 keeps 0.30000000000000004 / 0.1 from adding one.
    double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
    std::vector<double> ticks;
    for (double k = first; k <= last && ticks.size() < 100; k++) ticks.push_back(k * step);
    return ticks;
}

std::string format_tick(double value, double step) {
    double a = std::fabs(step);
    if (std::fabs(value) < a * 1e-6) value = 0; // -0 and 1e-17 print as 0
    char buf[48];
    if (a < 1e-4 || a >= 1e9) {
        std::snprintf(buf, sizeof(buf), "%.3g", value);
    } else if (a >= 1000) {
        bool mega = a >= 1e5; // 0.5M, 1.0M rather than 500k, 1000k
        if (value == 0) return "0";
        double unit = mega ? 1e6 : 1e3;
        int decimals = std::max(0, int(std::ceil(-std::log10(a / unit) - 1e-9)));
        std::snprintf(buf, sizeof(buf), "%.*f%s", decimals, value / unit, mega ? "M" : "k");
    } else {
        int decimals = std::max(0, int(std::ceil(-std::log10(a) - 1e-9)));
        std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
    }
    return buf;
}

static bool has_band(const ChartSpec& spec) {
    return std::isfinite(spec.band_low) && std::isfinite(spec.band_high) &&
           spec.band_low < spec.band_high;
}

std::string line_chart(const ChartSpec& spec) {
    std::vector<ChartSeries> series;
    double inf = std::numeric_limits<double>::infinity();
    double xlo = inf, xhi = -inf, ylo = inf, yhi = -inf;
    for (const ChartSeries& s : spec.series) {
        series.push_back(thin_series(s, spec.max_points));
        for (double x : series.back().x) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
        for (double y : series.back().y) ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
    bool empty = !(xlo <= xhi);
    if (!empty) {
        if (std::isfinite(spec.x_min)) xlo = std::min(xlo, spec.x_min);
        if (std::isfinite(spec.x_max)) xhi = std::max(xhi, spec.x_max);
        if (std::isfinite(spec.y_min)) ylo = std::min(ylo, spec.y_min);
        if (std::isfinite(spec.y_max)) yhi = std::max(yhi, spec.y_max);
        if (has_band(spec)) ylo = std::min(ylo, spec.band_low), yhi = std::max(yhi, spec.band_high);
    }
    bool legend = !(series.size() == 1 && series[0].name == spec.title);
    int legend_row_count = 0;
    if (legend) legend_rows(series, spec.width, &legend_row_count);
    const int top = kTitleHeight + kLegendRowHeight * legend_row_count + 8;
    const double w = spec.width, h = spec.height;
    const double plot_w = w - kLeft - kRight, plot_h = h - top - kBottom;

    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" << spec.width
        << "\" height=\"" << spec.height << "\" viewBox=\"0 0 " << spec.width << " " << spec.height
        << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">";
    out << "<title>" << html_escape(spec.title) << "</title>";
    out << "<text x=\"" << kLeft << "\" y=\"15\" font-size=\"13\" font-weight=\"bold\">"
        << html_escape(spec.title) << "</text>";
    out << "<rect x=\"" << kLeft << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
        << plot_h << "\" fill=\"none\" stroke=\"#999\"/>";
    if (empty) {
        out << "<text x=\"" << kLeft + plot_w / 2 << "\" y=\"" << top + plot_h / 2
            << "\" text-anchor=\"middle\" fill=\"#888\">no data</text></svg>";
        return out.str();
    }

    std::vector<double> xt = axis_ticks(xlo, xhi, int(plot_w / 90));
    std::vector<double> yt = axis_ticks(ylo, yhi, int(plot_h / 40));
    const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
    auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * plot_w; };
    auto py = [&](double y) { return top + (y1 - y) / (y1 - y0) * plot_h; };

    if (has_band(spec))
        out << "<rect class=\"band\" "
            << fmt("x=\"%.1f\" y=\"%.1f\"", double(kLeft), py(spec.band_high))
            << fmt(" width=\"%.1f\" height=\"%.1f\"", plot_w,
                   py(spec.band_low) - py(spec.band_high))
            << " fill=\"#2ca02c\" fill-opacity=\"0.12\"/>";
    // Grid lines and tick labels.
    double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    out << "<g stroke=\"#e4e4e4\">";
    for (double x : xt)
        out << "<line x1=\"" << px(x) << "\" y1=\"" << top << "\" x2=\"" << px(x) << "\" y2=\""
            << top + plot_h << "\"/>";
    for (double y : yt)
        out << "<line x1=\"" << kLeft << "\" y1=\"" << py(y) << "\" x2=\"" << kLeft + plot_w
            << "\" y2=\"" << py(y) << "\"/>";
    out << "</g><g fill=\"#444\" text-anchor=\"middle\">";
    for (double x : xt)
        out << "<text x=\"" << px(x) << "\" y=\"" << top + plot_h + 14 << "\">"
            << format_tick(x, xstep) << "</text>";
    out << "</g><g fill=\"#444\" text-anchor=\"end\">";
    for (double y : yt)
        out << "<text x=\"" << kLeft - 5 << "\" y=\"" << py(y) + 4 << "\">" << format_tick(y, ystep)
            << "</text>";
    out << "</g>";
    out << "<text x=\"" << kLeft + plot_w / 2 << "\" y=\"" << h - 6
        << "\" text-anchor=\"middle\" fill=\"#444\">" << html_escape(spec.x_label) << "</text>";
    out << "<text transform=\"translate(13," << top + plot_h / 2
        << ") rotate(-90)\" text-anchor=\"middle\" fill=\"#444\">" << html_escape(spec.y_label)
        << "</text>";

    // One polyline per series (and dots where there are few points, e.g. validation rounds).
    for (size_t i = 0; i < series.size(); i++) {
        const ChartSeries& s = series[i];
        const char* color = kColors[i % kNumColors];
        out << "<polyline data-name=\"" << html_escape(s.name) << "\" fill=\"none\" stroke=\""
            << color << "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" points=\"";
        for (size_t k = 0; k < s.x.size(); k++)
            out << (k ? " " : "") << fmt("%.1f,%.1f", px(s.x[k]), py(s.y[k]));
        out << "\"/>";
        if (s.x.size() <= size_t(kMarkerLimit)) {
            out << "<g fill=\"" << color << "\">";
            for (size_t k = 0; k < s.x.size(); k++)
                out << "<circle " << fmt("cx=\"%.1f\" cy=\"%.1f\"", px(s.x[k]), py(s.y[k]))
                    << " r=\"2.5\"/>";
            out << "</g>";
        }
    }
    if (legend) write_legend(out, series, spec.width);
    out << "</svg>";
    return out.str();
}

} // namespace pg::seg
