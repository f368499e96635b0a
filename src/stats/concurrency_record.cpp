#include <jobpatch/stats/concurrency_record.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <algorithm>
#include <utility>

namespace jobpatch {

void concurrency_record::start(unsigned limit, bool automatic) {
  automatic_ = automatic;
  current_ = least_ = most_ = limit;
  series_.clear();
  series_.reserve(max_points);
  series_.push_back({0, limit});
}

void concurrency_record::record(double at_seconds, unsigned limit) {
  if (limit == current_) return;
  current_ = limit;
  least_ = std::min(least_, limit);
  most_ = std::max(most_, limit);
  // Within `spacing_` of the last point, the newer value replaces it (the first point,
  // the start, always stays).
  if (series_.size() > 1 && at_seconds - series_.back().at_seconds < spacing_) {
    series_.back().limit = limit;
    return;
  }
  if (series_.size() == max_points) {
    // Keep the start and every other point after it: the spacing doubles.
    std::size_t kept = 1;
    for (std::size_t i = 2; i < series_.size(); i += 2) series_[kept++] = series_[i];
    series_.resize(kept);
    spacing_ *= 2;
  }
  series_.push_back({at_seconds, limit});
}

void concurrency_record::record_change(double at_seconds, std::string what) {
  if (changes_.size() == max_changes) {
    ++changes_dropped_;
    return;
  }
  changes_.push_back({at_seconds, std::move(what)});
}

void concurrency_record::write_json(json_writer& json) const {
  json.begin_object("concurrency")
      .string("mode", automatic_ ? "auto" : "fixed")
      .number("final", current_)
      .number("min", least_)
      .number("max", most_);
  json.begin_array("series");
  for (const point& p : series_)
    json.begin_array().element(p.at_seconds, 3).element(p.limit).end_array();
  json.end_array().end_object();
  if (changes_.empty()) return;
  json.begin_array("controlChanges");
  for (const change& c : changes_)
    json.begin_object().fixed("atSeconds", c.at_seconds, 3).string("change", c.what).end_object();
  json.end_array();
  if (changes_dropped_) json.number("controlChangesNotListed", changes_dropped_);
}

} // namespace jobpatch
