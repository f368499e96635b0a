#include <jobpatch/text/timestamp.hpp>

#include <cstdio>
#include <ctime>

namespace jobpatch {

void append_timestamp(std::string& out, std::int64_t unix_ms) {
  std::int64_t seconds = unix_ms / 1000, ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --seconds;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[96]; // room for any int the format could print: no truncation warning
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out += text;
}

std::string format_timestamp(std::int64_t unix_ms) {
  std::string out;
  append_timestamp(out, unix_ms);
  return out;
}

} // namespace jobpatch
