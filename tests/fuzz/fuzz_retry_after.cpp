// Fuzz entry for parse_retry_after: any header value, at a few different "now"s.

#include "fuzz_entries.hpp"

#include <jobpatch/wire/retry_after.hpp>

#include <string>

namespace jobpatch::fuzz {

int retry_after_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using namespace std::chrono;
  // "now" between 1970 and ~2106, in steps of ~16 years plus a few seconds.
  auto now = system_clock::time_point(seconds(std::int64_t{data[0]} * 16'777'259));
  std::string value(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto wait = parse_retry_after(value, now);
  if (wait) {
    require(wait->count() >= 0, "negative wait");
    require(*wait <= max_retry_after_wait, "wait above the cap");
  }
  // Surrounding spaces and tabs never change the answer.
  auto padded = parse_retry_after(" \t" + value + "\t ", now);
  require(padded == wait, "surrounding whitespace changed the answer");
  return 0;
}

} // namespace jobpatch::fuzz
