#include <jobpatch/stats/summary_merge.hpp>
#include <jobpatch/text/timestamp.hpp>

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/results/result_record.hpp>
#include <jobpatch/stats/latency_histogram.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>

namespace jobpatch {
namespace {

namespace json = boost::json;

// Top-level counters summed shard by shard; the first seven every apply summary has.
constexpr std::array<const char*, 16> summed_counters = {
    "total",          "ok",           "failed",
    "invalid",        "skipped",      "attempts",
    "retries",        "requests",     "unverified",
    "tokenRefreshes", "notAttempted", "changedSinceResume",
    "failedEarlier",  "unchanged",    "reads",
    "inDoubt"};
constexpr std::size_t required_counters = 7;
constexpr std::array<const char*, 6> op_counters = {"ok",      "failed",    "invalid",
                                                    "skipped", "unchanged", "attempts"};

struct op_summary {
  std::map<std::string, std::uint64_t> counters;
  std::uint64_t invalid_in_every_shard = 0;
  latency_histogram latency;
};

// What one shard's summary says, read tolerantly: unknown fields are ignored.
struct shard_summary {
  std::string name, run_id, shard;
  std::uint32_t shard_index = 0, shard_count = 0; // 0/0: a whole-manifest run
  std::optional<std::uint64_t> manifest_lines;
  std::int64_t started = 0, ended = 0; // Unix ms; 0 = not recorded
  double wall_seconds = 0;
  std::map<std::string, std::uint64_t> counters;
  std::uint64_t invalid_in_every_shard = 0;
  std::map<std::string, op_summary> ops;
  std::map<std::string, std::uint64_t> by_status, by_error, errors_by_class;
  latency_histogram latency, service;
  bool deadline_exceeded = false, interrupted = false, aborted = false;
  std::int64_t signal = 0, exit_code = 0;
  std::string abort_reason;
  bool stopped() const { return deadline_exceeded || interrupted || aborted; }
};

[[noreturn]] void fail(const std::string& name, const std::string& why) {
  throw summary_merge_error(name + ": " + why);
}

std::optional<std::uint64_t> as_count(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

std::uint64_t count_field(const json::object& o, const char* key, const std::string& name,
                          const std::string& where, bool required) {
  const json::value* v = o.if_contains(key);
  if (!v && !required) return 0;
  auto n = as_count(v);
  if (!n)
    fail(name, where + "\"" + key + "\" " + (v ? "is not a non-negative integer" : "is missing") +
                   ": not a jobpatch apply summary");
  return *n;
}

// `key` of `o` as a latency_histogram (see write_histogram_json).
latency_histogram read_histogram(const json::object& o, const char* key, const std::string& name,
                                 const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v)
    fail(name, where + "no \"" + key +
                   "\": the summary was written by a jobpatch that did not record its latency "
                   "histogram; run the shards again with this version to merge their latencies");
  const json::object* h = v->if_object();
  auto bad = [&](const std::string& why) { fail(name, where + "\"" + key + "\" " + why); };
  if (!h) bad("is not an object");
  const json::value* unit = h->if_contains("unit");
  if (!unit || !unit->is_string() || unit->get_string() != "ns") bad("must have \"unit\":\"ns\"");
  const json::value* layout = h->if_contains("layout");
  if (!layout || !layout->is_string() || layout->get_string() != histogram_layout_name)
    bad("has another bucket layout than \"" + std::string(histogram_layout_name) + "\"");
  latency_histogram::compact_form form;
  form.min = count_field(*h, "min", name, where + key + ".", true);
  form.max = count_field(*h, "max", name, where + key + ".", true);
  form.sum = count_field(*h, "sum", name, where + key + ".", true);
  form.overflows = count_field(*h, "overflows", name, where + key + ".", false);
  form.underflows = count_field(*h, "underflows", name, where + key + ".", false);
  const json::value* buckets = h->if_contains("buckets");
  if (!buckets || !buckets->is_array()) bad("has no \"buckets\" array");
  for (const auto& b : buckets->get_array()) {
    const json::array* pair = b.if_array();
    std::optional<std::uint64_t> index, count;
    if (pair && pair->size() == 2) {
      index = as_count(&(*pair)[0]);
      count = as_count(&(*pair)[1]);
    }
    if (!index || !count || *index > UINT32_MAX)
      bad("holds a bucket that is not [index,count]: " + json::serialize(b));
    form.buckets.emplace_back(static_cast<std::uint32_t>(*index), *count);
  }
  try {
    auto out = latency_histogram::from_compact(form);
    if (auto n = as_count(h->if_contains("count")); n && *n != out.count())
      bad("says count " + std::to_string(*n) + " but its buckets hold " +
          std::to_string(out.count()));
    return out;
  } catch (const std::invalid_argument& e) {
    fail(name, where + "\"" + key + "\" " + e.what());
  }
}

void read_counts(const json::object& o, const char* key, std::map<std::string, std::uint64_t>& out,
                 const std::string& name) {
  const json::value* v = o.if_contains(key);
  if (!v) return;
  if (!v->is_object()) fail(name, std::string("\"") + key + "\" is not an object");
  for (const auto& [k, n] : v->get_object()) {
    auto count = as_count(&n);
    if (!count) fail(name, std::string("\"") + key + "\"." + std::string(k) + " is not a count");
    out[std::string(k)] = *count;
  }
}

bool flag(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::string string_field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t integer_field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64() && v->get_uint64() <= INT64_MAX)
    return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

// "K/N" with 1 <= K <= N, or nothing.
bool parse_shard(std::string_view text, std::uint32_t& k, std::uint32_t& n) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  auto number = [](std::string_view s, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
  };
  return number(text.substr(0, slash), k) && number(text.substr(slash + 1), n) && k >= 1 && k <= n;
}

shard_summary read_summary(const summary_input& in) {
  shard_summary s;
  s.name = in.name;
  json::error_code ec;
  json::value doc = json::parse(in.text, ec);
  if (ec) fail(in.name, "not JSON (" + ec.message() + ")");
  const json::object* o = doc.if_object();
  if (!o) fail(in.name, "not a JSON object: not a jobpatch apply summary");
  for (std::size_t i = 0; i < summed_counters.size(); ++i)
    s.counters[summed_counters[i]] =
        count_field(*o, summed_counters[i], in.name, "", i < required_counters);
  s.invalid_in_every_shard = count_field(*o, "invalidInEveryShard", in.name, "", false);
  s.latency = read_histogram(*o, "latencyHistogram", in.name, "");
  s.service = read_histogram(*o, "serviceHistogram", in.name, "");
  if (const json::value* ops = o->if_contains("byOp")) {
    if (!ops->is_object()) fail(in.name, "\"byOp\" is not an object");
    for (const auto& [op, v] : ops->get_object()) {
      std::string where = "byOp." + std::string(op) + ".";
      const json::object* po = v.if_object();
      if (!po) fail(in.name, where + " is not an object");
      op_summary& target = s.ops[std::string(op)];
      for (const char* key : op_counters)
        target.counters[key] = count_field(*po, key, in.name, where, false);
      target.invalid_in_every_shard =
          count_field(*po, "invalidInEveryShard", in.name, where, false);
      target.latency = read_histogram(*po, "latencyHistogram", in.name, where);
    }
  }
  read_counts(*o, "byStatus", s.by_status, in.name);
  read_counts(*o, "byError", s.by_error, in.name);
  read_counts(*o, "errorsByClass", s.errors_by_class, in.name);
  s.run_id = string_field(*o, "runId");
  s.shard = string_field(*o, "shard");
  if (!s.shard.empty() && !parse_shard(s.shard, s.shard_index, s.shard_count))
    fail(in.name, "\"shard\" must be K/N, got \"" + s.shard + "\"");
  if (o->contains("manifestLines"))
    s.manifest_lines = count_field(*o, "manifestLines", in.name, "", true);
  s.started = integer_field(*o, "startedAtUnixMs");
  s.ended = integer_field(*o, "endedAtUnixMs");
  if (const json::value* wall = o->if_contains("wallSeconds"); wall && wall->is_number())
    s.wall_seconds = wall->to_number<double>();
  s.deadline_exceeded = flag(*o, "deadlineExceeded");
  s.interrupted = flag(*o, "interrupted");
  s.aborted = flag(*o, "aborted");
  s.signal = integer_field(*o, "signal");
  s.exit_code = integer_field(*o, "exitCode");
  s.abort_reason = string_field(*o, "abortReason");
  return s;
}

// The shards must be the N parts of one run: each K once, the same N.
void check_shards(const std::vector<shard_summary>& shards, std::vector<std::string>& warnings) {
  std::size_t sharded = 0;
  for (const auto& s : shards) sharded += s.shard_count > 0;
  if (sharded == 0) {
    if (shards.size() > 1)
      warnings.push_back("none of the " + std::to_string(shards.size()) +
                         " summaries records a shard (runs without --shard): they are merged "
                         "as parts of one run");
    return;
  }
  if (sharded != shards.size()) {
    const auto& whole = *std::find_if(shards.begin(), shards.end(),
                                      [](const shard_summary& s) { return s.shard_count == 0; });
    throw summary_merge_error(whole.name +
                              ": a run over the whole manifest (no \"shard\"), merged with "
                              "shards of a sharded run: pass the summaries of one run's shards");
  }
  std::uint32_t n = shards.front().shard_count;
  std::vector<const shard_summary*> seen(n, nullptr);
  for (const auto& s : shards) {
    if (s.shard_count != n)
      throw summary_merge_error(s.name + " is shard " + s.shard + " but " + shards.front().name +
                                " is shard " + shards.front().shard +
                                ": the shards of one run share N");
    if (const shard_summary* other = seen[s.shard_index - 1])
      throw summary_merge_error(
          other->name + " and " + s.name + " are both shard " + s.shard +
          ": pass one summary per shard (of a resumed shard, the last run's)");
    seen[s.shard_index - 1] = &s;
  }
  std::string missing;
  for (std::uint32_t k = 0; k < n; ++k)
    if (!seen[k])
      missing += (missing.empty() ? "" : ", ") + std::to_string(k + 1) + "/" + std::to_string(n);
  if (!missing.empty())
    throw summary_merge_error("no summary of shard " + missing + ": the merge of " +
                              std::to_string(shards.size()) + " of " + std::to_string(n) +
                              " shards would not describe the whole run");
}

// All shards read the same manifest: they read as many lines of it.
void check_manifest_lines(const std::vector<shard_summary>& shards,
                          std::vector<std::string>& warnings) {
  const shard_summary* first = nullptr;
  for (const auto& s : shards) {
    if (!s.manifest_lines) continue;
    if (!first) {
      first = &s;
      continue;
    }
    if (*s.manifest_lines == *first->manifest_lines) continue;
    std::string what = first->name + " read " + std::to_string(*first->manifest_lines) +
                       " manifest lines, " + s.name + " read " + std::to_string(*s.manifest_lines);
    if (first->stopped() || s.stopped()) {
      warnings.push_back(what + " (a run stopped early)");
      continue;
    }
    throw summary_merge_error(what + ": the shards ran over different manifests");
  }
}

// The exit code that tells most about the merged run: an output failure, then an abort,
// then a signal, then failed lines.
int rank_of(std::int64_t code) {
  switch (code) {
  case 0:
    return 0;
  case 1:
    return 1;
  case 4:
    return 5;
  case 3:
    return 4;
  case 2:
    return 2;
  default:
    return 3; // 130, 143: interrupted
  }
}

void add_counts(std::map<std::string, std::uint64_t>& to,
                const std::map<std::string, std::uint64_t>& from) {
  for (const auto& [k, n] : from) to[k] += n;
}

void write_counts(json_writer& json, const char* key,
                  const std::map<std::string, std::uint64_t>& counts, bool numeric_keys) {
  json.begin_object(key);
  std::vector<std::pair<std::string, std::uint64_t>> sorted(counts.begin(), counts.end());
  if (numeric_keys) // "200" before "1000": as numbers
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    });
  for (const auto& [k, n] : sorted) json.number(k, n);
  json.end_object();
}

// The shards' sums, built one summary at a time.
struct merged_totals {
  std::map<std::string, std::uint64_t> counters;
  std::map<std::string, op_summary> ops;
  std::map<std::string, std::uint64_t> by_status, by_error, errors_by_class;
  // An invalid line without a job id is recorded by every shard that read it: counted
  // once, as the most any one shard counted.
  std::uint64_t every_shard_sum = 0, every_shard_max = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> op_every_shard; // sum, max
  latency_histogram latency, service;
  double wall_max = 0;
  std::int64_t started = 0, ended = 0;
  bool timestamps = true, deadline = false, interrupted = false, aborted = false;
  std::int64_t signal = 0, exit_code = 0;
  std::string abort_reason;

  void add(const shard_summary& s) {
    add_counts(counters, s.counters);
    every_shard_sum += s.invalid_in_every_shard;
    every_shard_max = std::max(every_shard_max, s.invalid_in_every_shard);
    for (const auto& [name, op] : s.ops) {
      op_summary& target = ops[name];
      add_counts(target.counters, op.counters);
      target.latency.merge(op.latency);
      auto& [sum, max] = op_every_shard[name];
      sum += op.invalid_in_every_shard;
      max = std::max(max, op.invalid_in_every_shard);
    }
    add_counts(by_status, s.by_status);
    add_counts(by_error, s.by_error);
    add_counts(errors_by_class, s.errors_by_class);
    latency.merge(s.latency);
    service.merge(s.service);
    wall_max = std::max(wall_max, s.wall_seconds);
    if (s.started > 0 && s.ended >= s.started) {
      started = started ? std::min(started, s.started) : s.started;
      ended = std::max(ended, s.ended);
    } else {
      timestamps = false;
    }
    deadline |= s.deadline_exceeded;
    interrupted |= s.interrupted;
    if (s.signal && !signal) signal = s.signal;
    if (s.aborted && !aborted)
      abort_reason = (s.shard.empty() ? s.name : "shard " + s.shard) + ": " + s.abort_reason;
    aborted |= s.aborted;
    if (rank_of(s.exit_code) > rank_of(exit_code)) exit_code = s.exit_code;
  }

  // After the last add(): the lines every shard recorded, counted once.
  void count_shared_lines_once() {
    std::uint64_t duplicates = every_shard_sum - every_shard_max;
    counters["invalid"] -= std::min(counters["invalid"], duplicates);
    counters["total"] -= std::min(counters["total"], duplicates);
    for (auto& [name, op] : ops) {
      auto [sum, max] = op_every_shard[name];
      op.counters["invalid"] -= std::min(op.counters["invalid"], sum - max);
      op.invalid_in_every_shard = max;
    }
  }

  // The merged run lasted from the first shard's start to the last one's end; without
  // those times, as long as its longest shard.
  double wall_seconds() const {
    double wall =
        timestamps && ended > started ? static_cast<double>(ended - started) / 1000.0 : wall_max;
    return std::max(wall, wall_max);
  }
};

void write_run_end(json_writer& json, const merged_totals& t) {
  json.boolean("interrupted", t.interrupted);
  if (t.signal) json.integer("signal", t.signal);
  json.boolean("aborted", t.aborted);
  if (t.aborted) json.string("abortReason", t.abort_reason);
  json.integer("exitCode", t.exit_code);
}

// The merged summary: apply's summary shape, plus how many shards and which files.
std::string write_merged(merged_totals& t, const std::vector<shard_summary>& shards) {
  std::string out;
  json_writer json(out);
  json.begin_object();
  json.number("shards", shards.size());
  if (const auto& first = shards.front(); first.shard_count > 0)
    json.number("shardCount", first.shard_count);
  if (t.timestamps && t.started > 0)
    json.string("startedAt", format_timestamp(t.started))
        .integer("startedAtUnixMs", t.started)
        .string("endedAt", format_timestamp(t.ended))
        .integer("endedAtUnixMs", t.ended);
  if (shards.front().manifest_lines) json.number("manifestLines", *shards.front().manifest_lines);
  for (std::size_t i = 0; i < summed_counters.size(); ++i) {
    json.number(summed_counters[i], t.counters[summed_counters[i]]);
    if (i == 4) json.number("invalidInEveryShard", t.every_shard_max); // after "skipped"
  }
  json.begin_object("byOp");
  for (auto& [name, op] : t.ops) {
    json.begin_object(name);
    for (const char* key : op_counters) json.number(key, op.counters[key]);
    json.number("invalidInEveryShard", op.invalid_in_every_shard);
    write_latency_json(json, "latencyMs", op.latency);
    write_histogram_json(json, "latencyHistogram", op.latency);
    json.end_object();
  }
  json.end_object();
  write_counts(json, "byStatus", t.by_status, true);
  write_counts(json, "byError", t.by_error, false);
  write_counts(json, "errorsByClass", t.errors_by_class, false);
  write_latency_json(json, "latencyMs", t.latency);
  write_latency_json(json, "serviceMs", t.service);
  write_histogram_json(json, "latencyHistogram", t.latency);
  write_histogram_json(json, "serviceHistogram", t.service);
  double wall = t.wall_seconds();
  json.fixed("wallSeconds", wall, 3)
      .fixed("requestsPerSecond", wall > 0 ? static_cast<double>(t.counters["attempts"]) / wall : 0,
             1)
      .boolean("deadlineExceeded", t.deadline);
  write_run_end(json, t);
  json.begin_array("mergedFrom");
  for (const auto& s : shards) {
    json.begin_object().string("file", s.name);
    if (!s.shard.empty()) json.string("shard", s.shard);
    if (!s.run_id.empty()) json.string("runId", s.run_id);
    json.end_object();
  }
  json.end_array();
  json.end_object();
  out += '\n';
  return out;
}

} // namespace

merged_summary merge_summaries(const std::vector<summary_input>& inputs) {
  if (inputs.empty()) throw summary_merge_error("no summaries to merge");
  merged_summary result;
  std::vector<shard_summary> shards;
  shards.reserve(inputs.size());
  for (const auto& in : inputs) shards.push_back(read_summary(in));
  check_shards(shards, result.warnings);
  check_manifest_lines(shards, result.warnings);
  merged_totals totals;
  for (const auto& s : shards) totals.add(s);
  totals.count_shared_lines_once();
  result.json = write_merged(totals, shards);
  result.total = totals.counters["total"];
  result.stopped = totals.interrupted || totals.aborted || totals.deadline;
  return result;
}

} // namespace jobpatch
