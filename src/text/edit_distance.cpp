#include <jobpatch/text/edit_distance.hpp>

#include <algorithm>
#include <array>

namespace jobpatch {

std::size_t edit_distance(std::string_view a, std::string_view b) noexcept {
  if (a.size() > max_edit_distance_length || b.size() > max_edit_distance_length)
    return std::max(a.size(), b.size());
  std::array<std::size_t, max_edit_distance_length + 1> row{};
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

} // namespace jobpatch
