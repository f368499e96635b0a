#pragma once
// What the summary says of the requests allowed in flight (--connections, fixed or auto) and
// of the operator's live changes (--control): the limit's final, least and greatest values,
// its time series, and each change as it was asked. Fixed memory for any run length: the
// series keeps at most max_points points, the spacing between them doubling when full.
// Pure: times are passed in, as seconds since the run started. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace jobpatch {

class json_writer;

class concurrency_record {
public:
  static constexpr std::size_t max_points = 512;
  static constexpr std::size_t max_changes = 256;

  struct point {
    double at_seconds;
    unsigned limit;
  };
  struct change {
    double at_seconds;
    std::string what; // "pause", "rate 400", "connections auto"
  };

  // The limit the run starts with (at 0 s), and whether it adapts.
  void start(unsigned limit, bool automatic);
  // The limit is now `limit` (a call with the same limit records nothing).
  void record(double at_seconds, unsigned limit);
  // Whether the limit adapts from now on (`connections auto` / `connections N`).
  void set_automatic(bool automatic) noexcept { automatic_ = automatic; }
  // An operator's change, in the command's canonical words; past max_changes only counted.
  void record_change(double at_seconds, std::string what);

  bool automatic() const noexcept { return automatic_; }
  unsigned current() const noexcept { return current_; }
  unsigned least() const noexcept { return least_; }
  unsigned most() const noexcept { return most_; }
  const std::vector<point>& series() const noexcept { return series_; }
  const std::vector<change>& changes() const noexcept { return changes_; }
  std::uint64_t changes_dropped() const noexcept { return changes_dropped_; }

  // "concurrency":{"mode":"auto","final":N,"min":a,"max":b,"series":[[s,limit],...]} and,
  // when the operator changed anything, "controlChanges":[{"atSeconds":s,"change":"..."}].
  void write_json(json_writer& json) const;

private:
  bool automatic_ = false;
  unsigned current_ = 0, least_ = 0, most_ = 0;
  double spacing_ = 0.1; // seconds between kept points; doubles when the series is full
  std::vector<point> series_;
  std::vector<change> changes_;
  std::uint64_t changes_dropped_ = 0;
};

} // namespace jobpatch
