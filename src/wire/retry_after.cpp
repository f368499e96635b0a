#include <jobpatch/wire/retry_after.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

namespace jobpatch {
namespace {

using std::chrono::milliseconds;

// A tiny cursor over the header value; every read checks the bounds first.
struct cursor {
  std::string_view s;
  std::size_t i = 0;

  bool done() const noexcept { return i == s.size(); }
  bool lit(char c) noexcept {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // Exactly `n` digits.
  bool digits(std::size_t n, int& out) noexcept {
    if (s.size() - i < n) return false;
    int v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    i += n;
    out = v;
    return true;
  }
  // A run of ASCII letters, returned as a view.
  std::string_view word() noexcept {
    std::size_t b = i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
    return s.substr(b, i - b);
  }
};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    char x = a[k], y = b[k];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

template <std::size_t N>
bool one_of(std::string_view w, const std::array<std::string_view, N>& names) noexcept {
  for (auto n : names)
    if (iequals(w, n)) return true;
  return false;
}

// 1-based month number, or 0.
int month_of(std::string_view w) noexcept {
  for (std::size_t k = 0; k < months.size(); ++k)
    if (iequals(w, months[k])) return static_cast<int>(k) + 1;
  return 0;
}

struct civil_time {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// "HH:MM:SS"
bool time_of_day(cursor& c, civil_time& t) noexcept {
  return c.digits(2, t.hour) && c.lit(':') && c.digits(2, t.minute) && c.lit(':') &&
         c.digits(2, t.second);
}

// Milliseconds since the Unix epoch, or nullopt when a field is out of range. The
// date is validated (31 Feb is rejected); second 60 is allowed for leap seconds.
std::optional<std::int64_t> to_epoch_ms(const civil_time& t) noexcept {
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{t.year},
                                  std::chrono::month{static_cast<unsigned>(t.month)},
                                  std::chrono::day{static_cast<unsigned>(t.day)}};
  if (!ymd.ok()) return std::nullopt;
  // Years are 0..9999, so days fit easily and milliseconds stay far from overflow.
  std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  std::int64_t secs =
      days * 86400 + std::int64_t{t.hour} * 3600 + std::int64_t{t.minute} * 60 + t.second;
  return secs * 1000;
}

// IMF-fixdate after the day name: ", 06 Nov 1994 08:49:37 GMT"
bool imf_fixdate(cursor& c, civil_time& t) noexcept {
  return c.lit(',') && c.lit(' ') && c.digits(2, t.day) && c.lit(' ') &&
         (t.month = month_of(c.word())) != 0 && c.lit(' ') && c.digits(4, t.year) && c.lit(' ') &&
         time_of_day(c, t) && c.lit(' ') && iequals(c.word(), "GMT");
}

// RFC 850 after the day name: ", 06-Nov-94 08:49:37 GMT". Two-digit years more than
// 50 years ahead of `now_year` belong to the previous century (RFC 9110 §5.6.7).
bool rfc850_date(cursor& c, civil_time& t, int now_year) noexcept {
  int yy = 0;
  if (!(c.lit(',') && c.lit(' ') && c.digits(2, t.day) && c.lit('-') &&
        (t.month = month_of(c.word())) != 0 && c.lit('-') && c.digits(2, yy) && c.lit(' ') &&
        time_of_day(c, t) && c.lit(' ') && iequals(c.word(), "GMT")))
    return false;
  t.year = now_year - now_year % 100 + yy;
  if (t.year > now_year + 50) t.year -= 100;
  return true;
}

// asctime after the day name: " Nov  6 08:49:37 1994" (day is 2DIGIT or SP 1DIGIT).
bool asctime_date(cursor& c, civil_time& t) noexcept {
  if (!(c.lit(' ') && (t.month = month_of(c.word())) != 0 && c.lit(' '))) return false;
  if (c.lit(' ')) {
    if (!c.digits(1, t.day)) return false;
  } else if (!c.digits(2, t.day)) {
    return false;
  }
  return c.lit(' ') && time_of_day(c, t) && c.lit(' ') && c.digits(4, t.year);
}

std::optional<std::int64_t> parse_http_date(std::string_view s, int now_year) noexcept {
  cursor c{s};
  civil_time t;
  std::string_view day = c.word();
  bool parsed = false;
  if (one_of(day, short_days)) {
    parsed = (c.i < s.size() && s[c.i] == ',') ? imf_fixdate(c, t) : asctime_date(c, t);
  } else if (one_of(day, long_days)) {
    parsed = rfc850_date(c, t, now_year);
  }
  if (!parsed || !c.done()) return std::nullopt;
  return to_epoch_ms(t);
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

} // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) noexcept {
  while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;

  const std::int64_t cap_ms = max_retry_after_wait.count();
  if (value.front() >= '0' && value.front() <= '9') {
    // delta-seconds: saturate instead of overflowing on absurdly long digit runs.
    std::int64_t secs = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return std::nullopt;
      if (secs <= cap_ms) secs = secs * 10 + (c - '0');
    }
    return milliseconds(std::min(secs * 1000, cap_ms));
  }

  auto now_ms = std::chrono::floor<milliseconds>(now).time_since_epoch().count();
  auto now_days = std::chrono::floor<std::chrono::days>(now);
  int now_year = static_cast<int>(std::chrono::year_month_day{now_days}.year());
  auto date_ms = parse_http_date(value, now_year);
  if (!date_ms) return std::nullopt;
  std::int64_t wait = *date_ms - now_ms;
  return milliseconds(std::clamp<std::int64_t>(wait, 0, cap_ms));
}

} // namespace jobpatch
