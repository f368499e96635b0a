#include <jobpatch/text/utf8.hpp>

#include <algorithm>

namespace jobpatch {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(0);
  std::size_t n = s.size() - i;
  if (c < 0x80) return 1;
  // C0 and C1 would be overlong 2-byte forms; F5..FF would start sequences beyond U+10FFFF.
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && byte(1) < 0xA0) return 0; // overlong
    if (c == 0xED && byte(1) > 0x9F) return 0; // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && byte(1) < 0x90) return 0; // overlong
    if (c == 0xF4 && byte(1) > 0x8F) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

char32_t utf8_code_point(std::string_view s, std::size_t i, std::size_t length) noexcept {
  auto byte = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]));
  };
  switch (length) {
  case 1:
    return byte(0);
  case 2:
    return (byte(0) & 0x1F) << 6 | (byte(1) & 0x3F);
  case 3:
    return (byte(0) & 0x0F) << 12 | (byte(1) & 0x3F) << 6 | (byte(2) & 0x3F);
  case 4:
    return (byte(0) & 0x07) << 18 | (byte(1) & 0x3F) << 12 | (byte(2) & 0x3F) << 6 |
           (byte(3) & 0x3F);
  default:
    return 0xFFFD;
  }
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t length = utf8_sequence_length(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::size_t utf8_columns(std::string_view s) noexcept {
  std::size_t columns = 0;
  for (std::size_t i = 0; i < s.size(); ++columns)
    i += std::max<std::size_t>(1, utf8_sequence_length(s, i));
  return columns;
}

} // namespace jobpatch
