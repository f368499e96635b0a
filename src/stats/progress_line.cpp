#include <jobpatch/stats/progress_line.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace jobpatch {
namespace {

// "850us", "3.2ms", "18ms", "1.52s": short and ASCII.
std::string short_duration(std::chrono::nanoseconds d) {
  double ns = static_cast<double>(d.count());
  char buf[32];
  if (ns < 1e6)
    std::snprintf(buf, sizeof buf, "%.0fus", ns / 1e3);
  else if (ns < 1e7)
    std::snprintf(buf, sizeof buf, "%.1fms", ns / 1e6);
  else if (ns < 1e9)
    std::snprintf(buf, sizeof buf, "%.0fms", ns / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", ns / 1e9);
  return buf;
}

// "0:07", "12:34", "1:02:03".
std::string clock_time(double seconds) {
  auto s = static_cast<std::uint64_t>(std::max(0.0, std::round(seconds)));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

struct segment {
  std::string text;
  int drop_rank; // dropped in increasing order when the line is too wide; 0 = never
};

// "\r" + the parts that fit in `room` columns (dropping the lowest ranks first) + "\x1b[K".
std::string fitted_line(std::vector<segment>& parts, std::size_t room) {
  auto joined = [&] {
    std::string s;
    for (const auto& part : parts) {
      if (part.drop_rank < 0) continue;
      if (!s.empty()) s += "  ";
      s += part.text;
    }
    return s;
  };
  std::string text = joined();
  for (int rank = 1; text.size() > room && rank <= 7; ++rank) {
    for (auto& part : parts)
      if (part.drop_rank == rank) part.drop_rank = -1;
    text = joined();
  }
  if (text.size() > room) text.resize(room);
  return "\r" + text + "\x1b[K";
}

} // namespace

rate_meter::rate_meter(clock::time_point start, std::chrono::nanoseconds window)
    : start_(start), slot_width_(std::max<std::chrono::nanoseconds>(window / slot_count,
                                                                    std::chrono::nanoseconds(1))) {
  slot_index_.fill(-1);
}

std::int64_t rate_meter::slot_of(clock::time_point t) const noexcept {
  return t <= start_ ? 0 : (t - start_) / slot_width_;
}

void rate_meter::record(clock::time_point now, std::uint64_t n) noexcept {
  std::int64_t slot = slot_of(now);
  auto cell = static_cast<std::size_t>(slot) % slot_count;
  if (slot_index_[cell] != slot) {
    if (slot_index_[cell] > slot) return; // older than the window: no longer counted
    slot_index_[cell] = slot;
    slot_events_[cell] = 0;
  }
  slot_events_[cell] += n;
}

double rate_meter::rate(clock::time_point now) const noexcept {
  if (now <= start_) return 0;
  std::int64_t current = slot_of(now);
  std::uint64_t events = 0;
  for (std::size_t i = 0; i < slot_count; ++i)
    if (slot_index_[i] > current - static_cast<std::int64_t>(slot_count) &&
        slot_index_[i] <= current)
      events += slot_events_[i];
  // The window: the full slots before the current one plus the elapsed part of it.
  auto oldest = std::max<std::int64_t>(0, current - static_cast<std::int64_t>(slot_count) + 1);
  auto covered = (now - start_) - slot_width_ * oldest;
  double seconds = static_cast<double>(covered.count()) / 1e9;
  return seconds > 0 ? static_cast<double>(events) / seconds : 0;
}

std::string format_progress_line(const progress_snapshot& p, std::size_t terminal_width) {
  if (terminal_width == 0) terminal_width = 80;
  std::size_t room = terminal_width - 1;
  double seconds = static_cast<double>(p.elapsed.count()) / 1e9;
  std::vector<segment> parts;
  char buf[96];

  parts.push_back({clock_time(seconds), 1});
  if (p.paused) parts.push_back({"PAUSED", 0});
  if (p.total) {
    double percent =
        *p.total
            ? std::floor(1000.0 * static_cast<double>(p.done) / static_cast<double>(*p.total)) / 10
            : 100;
    std::snprintf(buf, sizeof buf, "%llu/%llu %.1f%%", static_cast<unsigned long long>(p.done),
                  static_cast<unsigned long long>(*p.total), percent);
  } else {
    std::snprintf(buf, sizeof buf, "%llu done", static_cast<unsigned long long>(p.done));
  }
  parts.push_back({buf, 0});
  parts.push_back({"ok " + std::to_string(p.ok), 4});
  parts.push_back({"failed " + std::to_string(p.failed), 5});
  parts.push_back({"retrying " + std::to_string(p.retrying), 2});
  if (p.limit > 0)
    parts.push_back({"in flight " + std::to_string(p.in_flight) + "/" + std::to_string(p.limit) +
                         (p.limit_auto ? " auto" : ""),
                     2});
  std::snprintf(buf, sizeof buf, p.rate < 10 ? "%.1f/s" : "%.0f/s", p.rate);
  parts.push_back({buf, 6});
  if (p.latency && p.latency->count() > 0)
    parts.push_back({"p50 " + short_duration(p.latency->percentile(0.5)) + " p99 " +
                         short_duration(p.latency->percentile(0.99)),
                     3});
  if (p.total) {
    std::string eta = "ETA ";
    if (p.done >= *p.total)
      eta += "0:00";
    else if (p.rate > 0)
      eta += clock_time(static_cast<double>(*p.total - p.done) / p.rate);
    else
      eta += "--";
    parts.push_back({eta, 7});
  }

  return fitted_line(parts, room);
}

std::string format_bench_progress_line(const bench_progress_snapshot& p,
                                       std::size_t terminal_width) {
  if (terminal_width == 0) terminal_width = 80;
  double elapsed = static_cast<double>(p.elapsed.count()) / 1e9;
  double duration = static_cast<double>(p.duration.count()) / 1e9;
  std::vector<segment> parts;
  char buf[96];
  parts.push_back(
      {"bench " + clock_time(std::min(elapsed, duration)) + "/" + clock_time(duration), 0});
  auto per_second = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, v < 10 ? "%.1f/s" : "%.0f/s", v);
    return std::string(text);
  };
  parts.push_back({per_second(p.achieved_rate) + " of " + per_second(p.intended_rate), 0});
  if (p.latency && p.latency->count() > 0)
    parts.push_back({"p50 " + short_duration(p.latency->percentile(0.5)) + " p99 " +
                         short_duration(p.latency->percentile(0.99)),
                     2});
  std::snprintf(buf, sizeof buf, "errors %llu", static_cast<unsigned long long>(p.errors));
  parts.push_back({buf, 3});
  std::snprintf(buf, sizeof buf, "%llu done", static_cast<unsigned long long>(p.done));
  parts.push_back({buf, 1});
  return fitted_line(parts, terminal_width - 1);
}

} // namespace jobpatch
