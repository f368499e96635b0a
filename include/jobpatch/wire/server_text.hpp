#pragma once
// Text a server sent (an error message, a job's state, the id of another job), not yet
// scrubbed of secrets. Nothing but secret_scrubber::shown() can read it: server text
// reaches an output only scrubbed whole first, then cut to what may be shown, so no call
// site can forget the scrub or cut a secret in half before it. A view: the bytes it
// names (a parser's buffer, an answer's body) must outlive it.

#include <cstddef>
#include <string_view>

namespace jobpatch {

class server_text {
public:
  // The most of a server text shown when the caller names no limit.
  static constexpr std::size_t default_max_shown = 4096;

  constexpr server_text() noexcept = default;
  // `raw` as the server sent it (a JSON string already decoded), of which at most
  // `max_shown` bytes are shown.
  constexpr explicit server_text(std::string_view raw,
                                 std::size_t max_shown = default_max_shown) noexcept
      : raw_(raw), max_shown_(max_shown) {}

  constexpr bool empty() const noexcept { return raw_.empty(); }

private:
  friend class secret_scrubber;
  std::string_view raw_;
  std::size_t max_shown_ = default_max_shown;
};

} // namespace jobpatch
