#include "cli/shard_option.hpp"

#include "cli/cli_error.hpp"

#include <charconv>
#include <cstdlib>

namespace jobpatch::cli {
namespace {

// Decimal digits only: no sign, no spaces, no overflow (from_chars alone accepts a '-').
std::optional<std::uint32_t> parse_count(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  std::uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

} // namespace

shard_selection resolve_shard(std::string_view option,
                              std::optional<std::string_view> completion_index) {
  const std::string env_name = "JOB_COMPLETION_INDEX";
  if (option.empty()) {
    shard_selection whole;
    // N pods each applying the whole manifest would race on every job's order.
    if (completion_index)
      whole.note = env_name + " is set but --shard is not: this run applies the whole manifest";
    return whole;
  }
  const std::string shown(option);
  auto slash = option.find('/');
  if (slash == std::string_view::npos) {
    auto count = parse_count(option);
    if (!count || *count == 0)
      refuse("--shard must be K/N with 1 <= K <= N, or N with " + env_name + " set, got " + shown);
    if (!completion_index)
      refuse("--shard " + shown + " takes K from " + env_name +
             " (set by a Kubernetes Indexed Job), which is not set; write --shard K/" + shown);
    auto index = parse_count(*completion_index);
    if (!index || *index >= *count)
      refuse(env_name + "=" + std::string(*completion_index) +
             " is not a number below the shard count " + shown +
             ": the Job's completions must equal N");
    return shard_selection{*index, *count, {}};
  }
  auto k = parse_count(option.substr(0, slash));
  auto n = parse_count(option.substr(slash + 1));
  if (!k || !n || *k < 1 || *k > *n) refuse("--shard must be K/N with 1 <= K <= N, got " + shown);
  shard_selection explicit_shard{*k - 1, *n, {}};
  if (completion_index) {
    auto index = parse_count(*completion_index);
    if (!index || *index != *k - 1)
      explicit_shard.note =
          "--shard " + shown + " wins over " + env_name + "=" + std::string(*completion_index);
  }
  return explicit_shard;
}

shard_selection resolve_shard_from_environment(std::string_view option) {
  const char* completion_index = std::getenv("JOB_COMPLETION_INDEX");
  if (!completion_index) return resolve_shard(option, std::nullopt);
  return resolve_shard(option, std::string_view(completion_index));
}

} // namespace jobpatch::cli
