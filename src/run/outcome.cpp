#include <jobpatch/run/outcome.hpp>

#include <array>

namespace jobpatch {
namespace {
constexpr std::array<std::string_view, 5> outcome_names = {"ok", "failed", "invalid", "skipped",
                                                           "unchanged"};
}

std::string_view to_string(outcome o) noexcept {
  return outcome_names[static_cast<std::size_t>(o)];
}

std::optional<outcome> parse_outcome(std::string_view name) noexcept {
  for (std::size_t i = 0; i < outcome_names.size(); ++i)
    if (outcome_names[i] == name) return static_cast<outcome>(i);
  return std::nullopt;
}

} // namespace jobpatch
