#include "mock/capacity_model.hpp"

#include <algorithm>
#include <stdexcept>

namespace jobpatch::mock {

namespace {

constexpr std::uint64_t max_change_ms = 7ull * 24 * 3600 * 1000; // a week

// Reads the digits at the front of `text` into `value` (stops growing past `limit`);
// returns how many there were.
std::size_t read_digits(std::string_view text, std::uint64_t& value, std::uint64_t limit) {
  std::size_t n = 0;
  value = 0;
  for (; n < text.size() && text[n] >= '0' && text[n] <= '9'; ++n)
    if (value <= limit) value = value * 10 + static_cast<std::uint64_t>(text[n] - '0');
  return n;
}

// "12", "1.5", "0.250": whole milliseconds; nothing on any other text.
std::optional<std::uint64_t> parse_seconds(std::string_view text) {
  std::uint64_t whole = 0, fraction = 0;
  std::size_t digits = read_digits(text, whole, max_change_ms);
  if (digits == 0 || whole > max_change_ms / 1000) return std::nullopt;
  text.remove_prefix(digits);
  if (text.empty()) return whole * 1000;
  if (text.front() != '.') return std::nullopt;
  text.remove_prefix(1);
  std::size_t decimals = read_digits(text, fraction, max_change_ms);
  if (decimals == 0 || decimals > 3 || decimals != text.size()) return std::nullopt;
  for (std::size_t i = decimals; i < 3; ++i) fraction *= 10;
  std::uint64_t ms = whole * 1000 + fraction;
  if (ms > max_change_ms) return std::nullopt;
  return ms;
}

} // namespace

std::optional<capacity_change> parse_capacity_change(std::string_view text, std::string& error) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    error = "expected SECONDS:K (e.g. 30:2), got \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  auto ms = parse_seconds(text.substr(0, colon));
  if (!ms) {
    error = "SECONDS of \"" + std::string(text) +
            "\" is not a number of seconds from 0 to 604800 (at most 3 decimals)";
    return std::nullopt;
  }
  std::string_view k = text.substr(colon + 1);
  std::uint64_t limit = 0;
  if (k.empty() || read_digits(k, limit, max_capacity) != k.size() || limit < 1 ||
      limit > max_capacity) {
    error = "K of \"" + std::string(text) + "\" is not a whole number from 1 to " +
            std::to_string(max_capacity);
    return std::nullopt;
  }
  return capacity_change{std::chrono::milliseconds(*ms), static_cast<unsigned>(limit)};
}

std::string capacity_options_problem(const capacity_options& options) {
  if (options.limit < 1 || options.limit > max_capacity)
    return "--capacity must be from 1 to " + std::to_string(max_capacity);
  if (options.service.count() < 0 || options.service.count() > max_service_ms)
    return "--service-ms must be from 0 to " + std::to_string(max_service_ms);
  if (options.queue > max_queue) return "--queue must be from 0 to " + std::to_string(max_queue);
  for (std::size_t i = 0; i < options.changes.size(); ++i) {
    const auto& c = options.changes[i];
    if (c.limit < 1 || c.limit > max_capacity)
      return "--capacity-after: K must be from 1 to " + std::to_string(max_capacity);
    if (c.at.count() < 0) return "--capacity-after: SECONDS must not be negative";
    for (std::size_t j = 0; j < i; ++j)
      if (options.changes[j].at == c.at)
        return "--capacity-after: two changes at " + std::to_string(c.at.count()) +
               " ms after the start";
  }
  return {};
}

capacity_model::capacity_model(const capacity_options& options, clock::time_point origin)
    : initial_limit_(options.limit),
      service_(std::chrono::duration_cast<clock::duration>(options.service)),
      queue_limit_(options.queue), latest_(origin) {
  if (std::string problem = capacity_options_problem(options); !problem.empty())
    throw std::invalid_argument(problem);
  for (const auto& c : options.changes) steps_.push_back({origin + c.at, c.limit});
  std::sort(steps_.begin(), steps_.end(),
            [](const step& a, const step& b) { return a.from < b.from; });
}

unsigned capacity_model::limit_at(clock::time_point t) const noexcept {
  unsigned limit = initial_limit_;
  for (const auto& s : steps_) {
    if (s.from > t) break;
    limit = s.limit;
  }
  return limit;
}

capacity_model::clock::time_point capacity_model::first_free(clock::time_point earliest) const {
  // From `earliest` on every admitted request has started, so the ones in service at t
  // are those whose end is after t, and the ends are ascending: fewer than k of them
  // from the (n-k)-th end on. Walk the capacity's steps from `earliest` until that time
  // falls inside the step; the last step never ends.
  const std::size_t n = starts_.size();
  auto next = std::upper_bound(steps_.begin(), steps_.end(), earliest,
                               [](clock::time_point t, const step& s) { return t < s.from; });
  clock::time_point from = earliest;
  unsigned limit = limit_at(earliest);
  for (;;) {
    clock::time_point t = from;
    if (n >= limit) t = std::max(t, starts_[n - limit] + service_);
    if (next == steps_.end() || t < next->from) return t;
    from = next->from;
    limit = next->limit;
    ++next;
  }
}

admission_result capacity_model::arrive(clock::time_point now) {
  now = std::max(now, latest_);
  latest_ = now;
  while (!starts_.empty() && starts_.front() + service_ <= now) starts_.pop_front();
  auto first_waiting = std::upper_bound(starts_.begin(), starts_.end(), now);
  const auto waiting = static_cast<std::size_t>(starts_.end() - first_waiting);
  const std::size_t in_service = starts_.size() - waiting;
  admission_result result;
  if (!(waiting == 0 && in_service < limit_at(now)) && waiting >= queue_limit_) {
    ++rejected_;
    result.start = result.done = now;
    return result;
  }
  clock::time_point earliest = starts_.empty() ? now : std::max(now, starts_.back());
  result.start = first_free(earliest);
  result.done = result.start + service_;
  result.verdict = result.start == now ? admission::at_once : admission::queued;
  // In service once it starts: the earlier requests whose end is after its start, and it.
  auto still_running = std::upper_bound(starts_.begin(), starts_.end(), result.start - service_);
  peak_in_service_ =
      std::max(peak_in_service_, static_cast<std::size_t>(starts_.end() - still_running) + 1);
  if (result.verdict == admission::queued) {
    ++after_queue_;
    peak_queued_ = std::max(peak_queued_, waiting + 1);
  } else {
    ++at_once_;
  }
  starts_.push_back(result.start);
  return result;
}

capacity_report capacity_model::report(clock::time_point now) const {
  capacity_report r;
  r.limit = limit_at(now);
  r.service = std::chrono::duration_cast<std::chrono::milliseconds>(service_);
  r.queue_limit = queue_limit_;
  r.at_once = at_once_;
  r.after_queue = after_queue_;
  r.rejected = rejected_;
  for (auto start : starts_) {
    if (start > now)
      ++r.queued;
    else if (start + service_ > now)
      ++r.in_service;
  }
  r.peak_in_service = peak_in_service_;
  r.peak_queued = peak_queued_;
  for (const auto& s : steps_)
    if (s.from <= now) ++r.changes_made;
  return r;
}

} // namespace jobpatch::mock
