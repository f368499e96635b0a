#include "mock/mock_stats.hpp"

#include <algorithm>

#include <jobpatch/text/json_text.hpp>

namespace jobpatch::mock {

namespace {
constexpr auto relaxed = std::memory_order_relaxed;
constexpr std::array<const char*, 6> fault_names = {"fail429",     "fail503",        "fail500",
                                                    "dropApplied", "dropNotApplied", "truncate"};

void append_capacity(std::string& out, const capacity_report& c) {
  auto field = [&out](const char* name, std::uint64_t value) {
    out += ",\"";
    out += name;
    out += "\":";
    append_uint(out, value);
  };
  out += R"(,"capacity":{"limit":)";
  append_uint(out, c.limit);
  field("serviceMs", static_cast<std::uint64_t>(c.service.count()));
  field("queueLimit", c.queue_limit);
  field("servedAtOnce", c.at_once);
  field("servedAfterQueue", c.after_queue);
  field("rejected503", c.rejected);
  field("inService", c.in_service);
  field("queued", c.queued);
  field("peakInService", c.peak_in_service);
  field("peakQueued", c.peak_queued);
  field("changesMade", c.changes_made);
  out += '}';
}

} // namespace

const char* to_string(endpoint e) noexcept {
  static constexpr std::array<const char*, endpoint_count> names = {
      "access_token", "datasource", "params", "jobname", "configs", "get_job", "stats", "other"};
  return names[static_cast<std::size_t>(e)];
}

void mock_stats::request(endpoint e, int status) noexcept {
  std::size_t slot = slots - 1;
  for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
    if (statuses[i] == status) slot = i;
  requests_[static_cast<std::size_t>(e)][slot].fetch_add(1, relaxed);
}

void mock_stats::dropped(endpoint e, bool applied) noexcept {
  requests_[static_cast<std::size_t>(e)][dropped_slot].fetch_add(1, relaxed);
  faults_[applied ? 3 : 4].fetch_add(1, relaxed);
}

void mock_stats::fault_injected(fault f) noexcept {
  switch (f) {
  case fault::fail_429:
    faults_[0].fetch_add(1, relaxed);
    break;
  case fault::fail_503:
    faults_[1].fetch_add(1, relaxed);
    break;
  case fault::fail_500:
    faults_[2].fetch_add(1, relaxed);
    break;
  case fault::truncate:
    faults_[5].fetch_add(1, relaxed);
    break;
  default:
    break; // drops are counted by dropped()
  }
}

void mock_stats::connection_opened() noexcept {
  accepted_.fetch_add(1, relaxed);
  open_.fetch_add(1, relaxed);
}

void mock_stats::connection_closed() noexcept { open_.fetch_sub(1, relaxed); }

std::string mock_stats::to_json(std::uint64_t applied, const capacity_report* capacity) const {
  std::string out = R"({"requests":{)";
  std::uint64_t total = 0;
  std::string by_endpoint;
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    by_endpoint += ',';
    append_json_string(by_endpoint, to_string(static_cast<endpoint>(e)));
    by_endpoint += ":{";
    bool first = true;
    for (std::size_t s = 0; s < slots; ++s) {
      std::uint64_t n = requests_[e][s].load(relaxed);
      if (n == 0) continue;
      total += n;
      if (!first) by_endpoint += ',';
      first = false;
      if (s == dropped_slot)
        by_endpoint += R"("dropped")";
      else if (s == slots - 1)
        by_endpoint += R"("other")";
      else {
        by_endpoint += '"';
        append_uint(by_endpoint, static_cast<std::uint64_t>(statuses[s]));
        by_endpoint += '"';
      }
      by_endpoint += ':';
      append_uint(by_endpoint, n);
    }
    by_endpoint += '}';
  }
  out += R"("total":)";
  append_uint(out, total);
  out += by_endpoint;
  out += R"(},"applied":)";
  append_uint(out, applied);
  out += R"(,"faults":{)";
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += fault_names[i];
    out += "\":";
    append_uint(out, faults_[i].load(relaxed));
  }
  out += R"(},"connections":{"accepted":)";
  append_uint(out, accepted_.load(relaxed));
  out += R"(,"open":)";
  append_uint(out, open_.load(relaxed));
  out += R"(},"tokensIssued":)";
  append_uint(out, tokens_issued_.load(relaxed));
  out += R"(,"patchesPerSecondPeak":)";
  {
    std::lock_guard lock(window_mutex_);
    append_uint(out, peak_per_second_);
  }
  if (capacity) append_capacity(out, *capacity);
  out += '}';
  return out;
}

void mock_stats::patch_arrived(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(window_mutex_);
  while (!window_.empty() && now - window_.front() >= std::chrono::seconds(1)) window_.pop_front();
  window_.push_back(now);
  peak_per_second_ = std::max(peak_per_second_, window_.size());
}

} // namespace jobpatch::mock
