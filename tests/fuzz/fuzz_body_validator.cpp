// Fuzz entry for body_validator: any bytes as the body of any op.

#include "fuzz_entries.hpp"

#include <jobpatch/manifest/body_validator.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace jobpatch::fuzz {

int body_validator_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static body_validator validator;
  auto op = static_cast<op_kind>(data[0] % op_kind_count);
  bool in_place = (data[0] & 4) != 0;
  std::size_t n = size - 1;
  // Exactly the bytes (the validator must copy), or with padding readable in place.
  auto buffer = std::make_unique<char[]>(n + (in_place ? 64 : 1));
  std::copy(data + 1, data + size, buffer.get());
  if (in_place) std::memset(buffer.get() + n, ' ', 64);
  std::string_view body(buffer.get(), n);
  bool ok = validator.validate(op, body, in_place ? n + 64 : n);
  if (!ok) {
    require(!validator.error().empty(), "rejected without a message");
    return 0;
  }
  // An accepted body is accepted again, from a copy (the parser is reused).
  std::string copy(body);
  require(validator.validate(op, copy), "verdict changed on a second look");
  return 0;
}

} // namespace jobpatch::fuzz
