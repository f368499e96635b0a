#pragma once
// The chart layer of the HTML report: number formats, axes and an SVG chart with series in
// data coordinates. Private to src/report/; html_report.cpp lays out the sections.

#include <jobpatch/report/html_report.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch::svg {

// Colour-blind-friendly palette (Okabe-Ito), one per series.
constexpr const char* palette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                   "#56b4e9", "#d55e00", "#f0e442", "#000000"};
constexpr std::size_t palette_size = sizeof palette / sizeof palette[0];

// Chart geometry in SVG user units; the SVG scales to the page width.
constexpr double chart_width = 960;
constexpr double chart_height = 320;
constexpr double margin_left = 78;
constexpr double margin_right = 44; // room for the last x tick label
constexpr double margin_top = 16;
constexpr double margin_bottom = 48;

struct axis {
  double lo, hi;
  bool log;
  std::vector<double> ticks;

  // Fraction of the way from lo to hi, in [0,1].
  double fraction(double v) const {
    if (log) {
      v = std::max(v, lo);
      return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    }
    return (v - lo) / (hi - lo);
  }
};

std::string number(double v, int decimals);
// Three significant digits.
std::string three_digits(double v);
// Short tick labels: "500 µs", "2 ms", "1.5 s".
std::string latency_tick(double ns);
// "12 345 678" is hard to read in a table; "12,345,678" is not.
std::string with_commas(std::uint64_t v);
std::string percent_label(double q);
// A 1-2-5 step giving about `target` intervals over `range`.
double nice_step(double range, int target);
// Linear axis from 0 (or lo) to a round number at or above hi.
axis linear_axis(double lo, double hi, int target_ticks = 6);
// Log axis whose ends are ticks: at 1-2-5 of each decade when the span is short, 1-3
// when longer, decades only when long (labels would collide otherwise).
axis log_axis(double lo, double hi);
std::string legend(const std::vector<std::pair<std::string, const char*>>& entries,
                   const std::vector<bool>& dashed = {});
std::string empty_note(std::string_view what);
// The corners of a step line through `points` (x ascending): each y holds until the next
// point's x, where the line rises or falls to its y; the last holds until `x_end` (when
// past the last x). (0,1),(2,4) to 5: (0,1),(2,1),(2,4),(5,4).
std::vector<std::pair<double, double>>
step_points(const std::vector<std::pair<double, double>>& points, double x_end);

// One chart: a plot area with axes and grid; series are appended in data coordinates.
class svg_chart {
public:
  svg_chart(const std::string& title, axis x, axis y,
            const std::function<std::string(double)>& x_label,
            const std::function<std::string(double)>& y_label, const std::string& x_title,
            const std::string& y_title)
      : x_(std::move(x)), y_(std::move(y)) {
    out_ += "<svg class=\"chart\" viewBox=\"0 0 " + number(chart_width, 0) + " " +
            number(chart_height, 0) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
            "\" xmlns=\"http://www.w3.org/2000/svg\">";
    out_ += "<rect x=\"" + number(margin_left, 0) + "\" y=\"" + number(margin_top, 0) +
            "\" width=\"" + number(plot_width(), 0) + "\" height=\"" + number(plot_height(), 0) +
            "\" class=\"plot\"></rect>";
    for (double t : x_.ticks) {
      double px = px_x(t);
      out_ += "<line class=\"grid\" x1=\"" + number(px, 1) + "\" y1=\"" + number(margin_top, 1) +
              "\" x2=\"" + number(px, 1) + "\" y2=\"" + number(margin_top + plot_height(), 1) +
              "\"></line>";
      out_ += "<text class=\"tick\" x=\"" + number(px, 1) + "\" y=\"" +
              number(margin_top + plot_height() + 17, 1) + "\" text-anchor=\"middle\">" +
              html_escape(x_label(t)) + "</text>";
    }
    for (double t : y_.ticks) {
      double py = px_y(t);
      out_ += "<line class=\"grid\" x1=\"" + number(margin_left, 1) + "\" y1=\"" + number(py, 1) +
              "\" x2=\"" + number(margin_left + plot_width(), 1) + "\" y2=\"" + number(py, 1) +
              "\"></line>";
      out_ += "<text class=\"tick\" x=\"" + number(margin_left - 8, 1) + "\" y=\"" +
              number(py + 4, 1) + "\" text-anchor=\"end\">" + html_escape(y_label(t)) + "</text>";
    }
    out_ += "<text class=\"axis-title\" x=\"" + number(margin_left + plot_width() / 2, 1) +
            "\" y=\"" + number(chart_height - 8, 1) + "\" text-anchor=\"middle\">" +
            html_escape(x_title) + "</text>";
    out_ += "<text class=\"axis-title\" transform=\"translate(16," +
            number(margin_top + plot_height() / 2, 1) + ") rotate(-90)\" text-anchor=\"middle\">" +
            html_escape(y_title) + "</text>";
  }

  double px_x(double v) const {
    return margin_left + std::clamp(x_.fraction(v), 0.0, 1.0) * plot_width();
  }
  double px_y(double v) const {
    return margin_top + plot_height() - std::clamp(y_.fraction(v), 0.0, 1.0) * plot_height();
  }

  // A line through the points; NaN y values break it into pieces.
  void polyline(const std::vector<std::pair<double, double>>& points, const char* colour,
                bool dashed = false, bool baseline = false) {
    std::string d;
    bool pen_down = false;
    for (auto [x, y] : points) {
      if (std::isnan(y)) {
        pen_down = false;
        continue;
      }
      d += pen_down ? " L" : " M";
      d += number(px_x(x), 1) + " " + number(px_y(y), 1);
      pen_down = true;
    }
    if (d.empty()) return;
    out_ += std::string("<path class=\"series") + (baseline ? " baseline" : "") + "\" d=\"" +
            d.substr(1) + "\" stroke=\"" + colour + "\"" +
            (dashed ? " stroke-dasharray=\"6 4\"" : "") + "></path>";
  }

  // A step line through `points` to `x_end` (step_points), over a light fill down to the
  // bottom of the plot.
  void steps(const std::vector<std::pair<double, double>>& points, double x_end,
             const char* colour) {
    auto corners = step_points(points, x_end);
    if (corners.empty()) return;
    std::string bottom = number(margin_top + plot_height(), 1);
    std::string d = "M" + number(px_x(corners.front().first), 1) + " " + bottom;
    for (auto [x, y] : corners) d += " L" + number(px_x(x), 1) + " " + number(px_y(y), 1);
    d += " L" + number(px_x(corners.back().first), 1) + " " + bottom + " Z";
    out_ += "<path class=\"area\" d=\"" + d + "\" fill=\"" + colour + "\"></path>";
    polyline(corners, colour);
  }

  // A dashed vertical line at x, labelled `label` above the plot, with `tooltip`.
  void marker(double x, const std::string& label, const std::string& tooltip) {
    std::string px = number(px_x(x), 1);
    out_ += "<g class=\"marker\"><title>" + html_escape(tooltip) + "</title><line x1=\"" + px +
            "\" y1=\"" + number(margin_top, 1) + "\" x2=\"" + px + "\" y2=\"" +
            number(margin_top + plot_height(), 1) + "\"></line><text class=\"tick\" x=\"" + px +
            "\" y=\"" + number(margin_top - 4, 1) + "\" text-anchor=\"middle\">" +
            html_escape(label) + "</text></g>";
  }

  // A bar from x0 to x1 of height y (from the bottom of the plot).
  void bar(double x0, double x1, double y, const char* colour, const std::string& tooltip) {
    double left = px_x(x0), right = px_x(x1), top = px_y(y);
    double bottom = margin_top + plot_height();
    out_ += "<rect x=\"" + number(left + 0.5, 1) + "\" y=\"" + number(top, 1) + "\" width=\"" +
            number(std::max(right - left - 1, 1.0), 1) + "\" height=\"" + number(bottom - top, 1) +
            "\" fill=\"" + colour + "\"><title>" + html_escape(tooltip) + "</title></rect>";
  }

  std::string finish() { return out_ + "</svg>"; }

private:
  static double plot_width() { return chart_width - margin_left - margin_right; }
  static double plot_height() { return chart_height - margin_top - margin_bottom; }

  axis x_, y_;
  std::string out_;
};

} // namespace jobpatch::svg
