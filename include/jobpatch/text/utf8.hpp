#pragma once
// The one UTF-8 validator: results and summaries (json_text), server text shown to a
// person (response_parser) and manifest jobIds (line_validator) all judge bytes by it.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jobpatch {

// Length (1-4) of the well-formed UTF-8 sequence that starts at s[i], or 0 when it is not
// one. Strict, as RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequence. Requires i < s.size().
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

// The code point of the sequence of `length` (from utf8_sequence_length) at s[i].
char32_t utf8_code_point(std::string_view s, std::size_t i, std::size_t length) noexcept;

// True when all of `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s) noexcept;

// Columns `s` takes in a text table: one per code point (a byte that starts no valid
// sequence counts one), so "µs" pads like "ms".
std::size_t utf8_columns(std::string_view s) noexcept;

// True for C0 controls, DEL and the C1 range U+0080..U+009F (which holds the 8-bit CSI).
constexpr bool is_control_code_point(char32_t c) noexcept {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

// True for what a terminal must not be handed raw: the controls above, and the invisible
// format controls that reorder or hide text (zero-width characters and marks U+200B..200F,
// bidirectional embeddings and overrides U+202A..202E, the word joiner, invisible operators
// and bidirectional isolates U+2060..2069, the byte order mark U+FEFF). A server's U+202E
// in a job's name could otherwise swap "before" and "after" on the screen.
constexpr bool is_unsafe_on_terminal(char32_t c) noexcept {
  return is_control_code_point(c) || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2060 && c <= 0x2069) || c == 0xFEFF;
}

} // namespace jobpatch
