// Line charts as inline SVG text for the run report (seg/report.h): series of (x, y) points,
// thinned to a bounded number of points per series, "nice" axis ticks (1, 2, 5 x 10^k), a
// legend, one <polyline> per series. No scripts, no external fonts: the SVG opens anywhere.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace pg::seg {

// One curve. x and y have the same length; points where x or y is NaN/inf are left out.
struct ChartSeries {
    std::string name;
    std::vector<double> x, y;
};

struct ChartSpec {
    std::string title, x_label, y_label;
    std::vector<ChartSeries> series;
    int width = 720, height = 280; // pixels (viewBox units)
    int max_points = 1000;         // per series, after thinning
    // Values the axes always reach (0 for mIoU; the run's step range, so that all charts of a
    // run line up); NaN = the data's range only. The axes are then rounded out to ticks.
    double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;
    // A shaded horizontal band [band_low, band_high] (a healthy range: AdvSemiSeg's D loss); the
    // y axis always reaches it. NaN: none.
    double band_low = NAN, band_high = NAN;
};

// The chart as one <svg> element. Each series is a
// <polyline data-name="NAME" points="x,y x,y ..."> (name escaped); a chart without a finite
// point says "no data". The legend is left out when one series carries the chart's title.
std::string line_chart(const ChartSpec& spec);

// Drops non-finite points, then, when more than max_points (>= 3) remain, keeps the first and the
// last point as they are and replaces the ones between by max_points - 2 buckets of consecutive
// points, each by its mean (x, y): a long noisy loss curve becomes its running average.
ChartSeries thin_series(const ChartSeries& series, int max_points);

// Tick values covering [lo, hi] with a step of 1, 2 or 5 x 10^k, about `target` of them; the
// first tick <= lo and the last >= hi (the axis is rounded out to them). lo < hi.
std::vector<double> nice_ticks(double lo, double hi, int target);

// A tick label: as many decimals as the tick step needs ("0.002", "2.5", "120"), "12k" for
// thousands ("0" for zero), %.2g-style exponents for tiny or huge steps ("1e-05").
std::string format_tick(double value, double step);

// & < > " ' -> entities; for text and attribute values in HTML and SVG.
std::string html_escape(const std::string& text);

} // namespace pg::seg
