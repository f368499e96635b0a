#pragma once
// A live-control command of a running apply (`jobpatch control SOCKET COMMAND`, issue 27):
// the words an operator types, parsed into a value, and its canonical words again. The
// client parses before it sends anything; the server (src/net/control_socket.cpp) parses
// what arrives once more and never trusts the client. Also the reply lines both sides
// share: one JSON object, `{"ok":true,...}` or `{"ok":false,"error":"..."}`.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace jobpatch {

struct control_command {
  enum class kind { status, pause, resume, rate, connections };
  kind what = kind::status;
  double rate = 0;          // kind::rate: requests/s, 0 = none (no limit)
  unsigned connections = 0; // kind::connections: N >= 1; 0 = auto

  friend bool operator==(const control_command&, const control_command&) = default;
};

// The bounds the parser keeps.
inline constexpr unsigned control_max_connections = 1024;
// The longest request line the server reads (without its '\n'); a canonical command is
// far shorter.
inline constexpr std::size_t control_max_request_bytes = 256;

// What parse_control_command made of the words: a command, or why not (`error` says what
// is accepted).
struct control_parse {
  std::optional<control_command> command;
  std::string error;
};

// Parses the words after the socket path: `status`, `pause`, `resume`, `rate R` (a finite
// number of requests/s > 0, decimals allowed, or `none` for no limit), `connections N`
// (an integer 1..1024, or `auto`). Names are exact and lowercase; exactly as many words as
// the command takes.
control_parse parse_control_command(std::span<const std::string_view> words);

// Splits a request line on spaces (runs of them count as one) and parses the words.
control_parse parse_control_line(std::string_view line);

// The canonical words: "status", "pause", "rate 400", "rate 12.5", "rate none",
// "connections 8", "connections auto". parse_control_line(to_string(c)) gives c back.
std::string to_string(const control_command& c);

// The reply lines (without '\n'):
// {"ok":true,"change":"rate 400"} for a change that was made;
std::string control_reply_change(const control_command& c);
// {"ok":false,"error":"<message>"} (the message JSON-escaped, cut to 200 bytes).
std::string control_reply_error(std::string_view message);

} // namespace jobpatch
