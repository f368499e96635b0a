#include <jobpatch/wire/answer_rules.hpp>

namespace jobpatch {
namespace {

bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// "64 KiB", "2 MiB", or "1000 bytes".
void append_size(std::string& out, std::uint64_t bytes) {
  constexpr std::uint64_t kib = 1024, mib = kib * kib;
  if (bytes != 0 && bytes % mib == 0)
    out += std::to_string(bytes / mib) + " MiB";
  else if (bytes != 0 && bytes % kib == 0)
    out += std::to_string(bytes / kib) + " KiB";
  else
    out += std::to_string(bytes) + " bytes";
}

} // namespace

answer_part answer_budget::waiting_part(std::string_view waiting) noexcept {
  // The CRLF that ends the previous chunk's data is left for the next chunk-size line.
  if (waiting.starts_with("\r\n")) waiting.remove_prefix(2);
  std::size_t zeros = 0;
  while (zeros < waiting.size() && waiting[zeros] == '0') ++zeros;
  // last-chunk = 1*("0") [ chunk-ext ] CRLF, then the trailer section up to an empty line.
  bool last_chunk = zeros > 0 && (zeros == waiting.size() || !is_hex_digit(waiting[zeros]));
  if (last_chunk && waiting.find("\r\n", zeros) != std::string_view::npos)
    return answer_part::trailer;
  return answer_part::chunk_line;
}

void append_too_large(std::string& out, answer_part part, const answer_limits& limits) {
  switch (part) {
  case answer_part::head:
    out += "status line and headers over ";
    break;
  case answer_part::chunk_line:
    out += "a chunk-size line with its extensions over ";
    break;
  case answer_part::trailer:
    out += "the trailer section over ";
    break;
  case answer_part::body:
    out += "body over ";
    append_size(out, limits.body_bytes);
    return;
  case answer_part::none:
    out += "no part";
    return;
  }
  append_size(out, limits.head_bytes);
}

status_line judge_status_line(unsigned status, unsigned version) noexcept {
  if (version / 10 != 1 || status < 100 || status > 599 || status == 101)
    return status_line::unusable;
  if (status < 200) return status_line::interim;
  return version == 10 ? status_line::final_then_close : status_line::final;
}

void append_unusable_status(std::string& out, unsigned status, unsigned version) {
  if (version / 10 != 1) {
    out += "HTTP/" + std::to_string(version / 10) + "." + std::to_string(version % 10) +
           " is not HTTP/1.1";
    return;
  }
  out += "HTTP " + std::to_string(status);
  if (status == 101)
    out += " Switching Protocols where a final answer was expected: the connection now speaks "
           "another protocol";
  else
    out += " is not a status (100-599)";
}

} // namespace jobpatch
