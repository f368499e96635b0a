#pragma once
// What the transport takes of an HTTP answer, as values: how many bytes each part of an
// answer may hold, and which status lines answer the request. Pure; the read loop of
// src/net/http_connection.cpp applies them to what Beast's parser is fed.
//
// Beast's parser waits for the end of a header line, a chunk-size line or the trailer
// section with all of it in the read buffer, and 1.81 limits only the header: a chunk
// extension or a trailer section that never ends grew the client without bound (540 MB
// before the attempt's timeout). So the read loop counts the bytes of the part being read
// itself and stops at its limit: the attempt fails "answer too large" after at most
// head_bytes of it, whatever the server keeps sending.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobpatch {

// The parts of an answer that have a limit of their own.
enum class answer_part : std::uint8_t {
  none,
  head,       // the status line and the header fields
  chunk_line, // one chunk-size line with its extensions
  trailer,    // the last chunk's line and the trailer section after it
  body,       // the body: the content, or the sum of the chunks' data
};

struct answer_limits {
  std::size_t head_bytes = std::size_t{64} << 10; // also each chunk line, and the trailer
  std::uint64_t body_bytes = std::uint64_t{2} << 20;
};

// Counts one answer's bytes as its parser takes them. The body is counted by the parser
// (its body limit, set from body_bytes): it is taken as it arrives, never waits whole in
// the read buffer.
class answer_budget {
public:
  explicit answer_budget(const answer_limits& limits) noexcept : limits_(limits) {}

  // The parser took `n` bytes; `head_done`: its header is complete (after that call).
  void took(std::size_t n, bool head_done) noexcept {
    if (!head_done) head_taken_ += n;
  }
  // The part the parser waits for whole, given the bytes left unparsed in the read
  // buffer (`waiting`: all of that part read so far, except the status line and header
  // lines taken already), when it has reached its limit; answer_part::none otherwise.
  answer_part over(std::string_view waiting, bool head_done) const noexcept {
    if (part_bytes(waiting.size(), head_done) < limits_.head_bytes) return answer_part::none;
    return head_done ? waiting_part(waiting) : answer_part::head;
  }
  // How many bytes may be read into the buffer, `waiting` long, before over() says no:
  // the buffer never holds more than the limit. At least 1 while over() says none.
  std::size_t room(std::size_t waiting, bool head_done) const noexcept {
    std::size_t used = part_bytes(waiting, head_done);
    return used < limits_.head_bytes ? limits_.head_bytes - used : 0;
  }

private:
  std::size_t part_bytes(std::size_t waiting, bool head_done) const noexcept {
    return head_done ? waiting : head_taken_ + waiting;
  }
  // After the header: a chunk-size line, or the last chunk (size 0) and its trailer.
  static answer_part waiting_part(std::string_view waiting) noexcept;

  answer_limits limits_;
  std::size_t head_taken_ = 0;
};

// Appends what was too large, for the error text after "answer too large: " ("a
// chunk-size line with its extensions over 64 KiB").
void append_too_large(std::string& out, answer_part part, const answer_limits& limits);

// What a status line makes of an answer. `status` as parsed (three digits), `version`
// 10 * major + minor (HTTP/1.1: 11).
enum class status_line : std::uint8_t {
  interim,          // 1xx but 101: skipped, the final answer follows (RFC 9110 15.2)
  final,            // a final HTTP/1.1 answer (200-599): the connection may be kept
  final_then_close, // a final HTTP/1.0 answer: used, the connection is not kept
  // Not an answer to the request: 101 Switching Protocols (the connection speaks another
  // protocol from here on), a status outside 100-599, an HTTP version other than 1.x.
  // The attempt fails and the connection is closed, never reused.
  unusable,
};
status_line judge_status_line(unsigned status, unsigned version) noexcept;

// Appends why an unusable status line is no answer ("HTTP 101 Switching Protocols ...").
void append_unusable_status(std::string& out, unsigned status, unsigned version);

} // namespace jobpatch
