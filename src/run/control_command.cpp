#include <jobpatch/run/control_command.hpp>

#include <jobpatch/text/json_text.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>
#include <vector>

namespace jobpatch {
namespace {

constexpr std::string_view accepted =
    "expected one of: status, pause, resume, rate R (requests/s, or none), "
    "connections N (1-1024, or auto)";

// `text` quoted for a message, cut so that a long word cannot fill it.
std::string quoted(std::string_view text) { return "\"" + excerpt(text, 40) + "\""; }

control_parse refused(std::string message) { return {std::nullopt, std::move(message)}; }

control_parse parsed(control_command c) { return {c, {}}; }

control_parse parse_rate(std::string_view value) {
  if (value == "none") return parsed({control_command::kind::rate, 0, 0});
  double rate = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, rate, std::chars_format::general);
  if (value.empty() || ec == std::errc::invalid_argument || ptr != end)
    return refused("rate: " + quoted(value) +
                   " is not a number; expected requests/s above 0 (e.g. 400 or 12.5), or none");
  if (ec == std::errc::result_out_of_range)
    return refused("rate: " + quoted(value) + " is out of range; expected requests/s above 0");
  if (!std::isfinite(rate)) return refused("rate: " + quoted(value) + " is not a finite number");
  if (rate <= 0)
    return refused("rate: " + quoted(value) + " is not above 0 (rate none lifts the limit)");
  return parsed({control_command::kind::rate, rate, 0});
}

control_parse parse_connections(std::string_view value) {
  if (value == "auto") return parsed({control_command::kind::connections, 0, 0});
  unsigned n = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec == std::errc::invalid_argument || ptr != end)
    return refused("connections: " + quoted(value) +
                   " is not an integer; expected 1 to 1024, or auto");
  if (ec == std::errc::result_out_of_range || n < 1 || n > control_max_connections)
    return refused("connections: " + quoted(value) +
                   " is out of range; expected 1 to 1024, or auto");
  return parsed({control_command::kind::connections, 0, n});
}

struct command_name {
  std::string_view name;
  control_command::kind what;
  bool takes_value;
};

constexpr std::array<command_name, 5> names = {{
    {"status", control_command::kind::status, false},
    {"pause", control_command::kind::pause, false},
    {"resume", control_command::kind::resume, false},
    {"rate", control_command::kind::rate, true},
    {"connections", control_command::kind::connections, true},
}};

} // namespace

control_parse parse_control_command(std::span<const std::string_view> words) {
  if (words.empty()) return refused("no command; " + std::string(accepted));
  const command_name* found = nullptr;
  for (const auto& n : names)
    if (n.name == words[0]) found = &n;
  if (found == nullptr)
    return refused("unknown command " + quoted(words[0]) + "; " + std::string(accepted));
  std::string name(found->name);
  if (!found->takes_value) {
    if (words.size() != 1) return refused(name + " takes no value (got " + quoted(words[1]) + ")");
    return parsed({found->what, 0, 0});
  }
  if (words.size() != 2) {
    const char* usage = found->what == control_command::kind::rate
                            ? "rate R (requests/s above 0, e.g. rate 400 or rate 12.5) or rate none"
                            : "connections N (1 to 1024) or connections auto";
    return refused(name + " takes exactly one value: " + usage);
  }
  return found->what == control_command::kind::rate ? parse_rate(words[1])
                                                    : parse_connections(words[1]);
}

control_parse parse_control_line(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = line.find(' ', i);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(i, end - i));
    i = end;
  }
  return parse_control_command(words);
}

std::string to_string(const control_command& c) {
  switch (c.what) {
  case control_command::kind::status:
    return "status";
  case control_command::kind::pause:
    return "pause";
  case control_command::kind::resume:
    return "resume";
  case control_command::kind::rate: {
    if (c.rate <= 0) return "rate none";
    // The shortest text that reads back as the same double.
    std::array<char, 32> digits{};
    auto result = std::to_chars(digits.data(), digits.data() + digits.size(), c.rate);
    return "rate " + std::string(digits.data(), result.ptr);
  }
  case control_command::kind::connections:
    return c.connections == 0 ? "connections auto" : "connections " + std::to_string(c.connections);
  }
  return "status";
}

std::string control_reply_change(const control_command& c) {
  std::string out = R"({"ok":true,"change":)";
  append_json_string(out, to_string(c));
  out += '}';
  return out;
}

std::string control_reply_error(std::string_view message) {
  std::string out = R"({"ok":false,"error":)";
  append_json_string(out, excerpt(message, 200));
  out += '}';
  return out;
}

} // namespace jobpatch
