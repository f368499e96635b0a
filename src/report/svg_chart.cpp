#include "report/svg_chart.hpp"

#include <cstdio>

namespace jobpatch::svg {

using std::chrono::nanoseconds;

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Three significant digits.
std::string three_digits(double v) { return number(v, v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2); }

// Short tick labels: "500 µs", "2 ms", "1.5 s".
std::string latency_tick(double ns) {
  auto compact = [](double v) {
    std::string s = number(v, v >= 10 ? 0 : v >= 1 ? 1 : 2);
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (ns < 1e3) return compact(ns) + " ns";
  if (ns < 1e6) return compact(ns / 1e3) + " µs";
  if (ns < 1e9) return compact(ns / 1e6) + " ms";
  return compact(ns / 1e9) + " s";
}

// "12 345 678" is hard to read in a table; "12,345,678" is not.
std::string with_commas(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string percent_label(double q) {
  // 0.999 -> "99.9%", 0.9 -> "90%".
  std::string s = number(q * 100, 4);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "%";
}

// ---- axes ----------------------------------------------------------------------------

// A 1-2-5 step giving about `target` intervals over `range`.
double nice_step(double range, int target) {
  double raw = range / target;
  double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

// Linear axis from 0 (or lo) to a round number at or above hi.
axis linear_axis(double lo, double hi, int target_ticks) {
  if (!(hi > lo)) hi = lo + 1;
  double step = nice_step(hi - lo, target_ticks);
  axis a{std::floor(lo / step) * step, std::ceil(hi / step) * step, false, {}};
  for (double t = a.lo; t <= a.hi + step / 2; t += step) a.ticks.push_back(t);
  return a;
}

// Log axis whose ends are ticks: at 1-2-5 of each decade when the span is short, 1-3
// when longer, decades only when long (labels would collide otherwise).
axis log_axis(double lo, double hi) {
  lo = std::max(lo, 1.0);
  hi = std::max(hi, lo * 1.01);
  double decades = std::log10(hi / lo);
  std::vector<double> mantissas = decades <= 2   ? std::vector<double>{1, 2, 5}
                                  : decades <= 4 ? std::vector<double>{1, 3}
                                                 : std::vector<double>{1};
  // Candidate ticks from the decade below lo to the decade above hi.
  std::vector<double> candidates;
  for (double d = std::pow(10, std::floor(std::log10(lo))); d <= hi * 10; d *= 10)
    for (double m : mantissas) candidates.push_back(m * d);
  axis a{lo, hi, true, {}};
  for (double c : candidates)
    if (c <= lo * 1.0001) a.lo = c;
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
    if (*it >= hi * 0.9999) a.hi = *it;
  for (double c : candidates)
    if (c >= a.lo * 0.9999 && c <= a.hi * 1.0001) a.ticks.push_back(c);
  return a;
}

std::string legend(const std::vector<std::pair<std::string, const char*>>& entries,
                   const std::vector<bool>& dashed) {
  std::string out = "<div class=\"legend\">";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bool dash = i < dashed.size() && dashed[i];
    out += "<span><i style=\"border-top:3px " + std::string(dash ? "dashed " : "solid ") +
           entries[i].second + "\"></i>" + html_escape(entries[i].first) + "</span>";
  }
  return out + "</div>";
}

std::string empty_note(std::string_view what) {
  return "<p class=\"empty\">" + html_escape(what) + "</p>";
}

std::vector<std::pair<double, double>>
step_points(const std::vector<std::pair<double, double>>& points, double x_end) {
  std::vector<std::pair<double, double>> out;
  out.reserve(points.size() * 2);
  for (std::size_t i = 0; i < points.size(); ++i) {
    out.push_back(points[i]);
    double next = i + 1 < points.size() ? points[i + 1].first : x_end;
    if (next > points[i].first) out.emplace_back(next, points[i].second);
  }
  return out;
}

} // namespace jobpatch::svg
