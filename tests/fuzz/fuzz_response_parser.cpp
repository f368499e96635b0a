// Fuzz entry for response_parser: a 200 body checked against a fixed valid update of each
// op, an error body, or a token exchange answer.

#include "fuzz_entries.hpp"

#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace jobpatch::fuzz {

namespace {

// One valid update per op, as a manifest would give it (bodies pass body_validator).
const std::array<operation, op_kind_count>& updates() {
  static const std::array<operation, op_kind_count> ops = [] {
    std::array<operation, op_kind_count> o;
    o[0] = {
        1, "job-0000001", op_kind::datasource,
        R"({"dataSource":{"dataSourceDescriptor":"s3","params":{"bucket":"b","n":[1,2.5,"x"]}},)"
        R"("dataDestination":{"dataSourceDescriptor":"bucket","params":{}}})",
        0};
    o[1] = {2, "job-0000002", op_kind::params,
            R"({"preset":"fast","app":{"quality":"high","sizes":[1,{"x":null}]},"partitioner":{}})",
            0};
    o[2] = {3, "job 3/\"é\"", op_kind::jobname, R"("nightly-42")", 0};
    o[3] = {4, "job-0000004", op_kind::configs,
            R"({"taskTimeout":"600","jobTimeout":3600,"isTestJob":false})", 0};
    return o;
  }();
  return ops;
}

bool has_header_unsafe_byte(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x21 || c == 0x7F) return true;
  return false;
}

} // namespace

int response_parser_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static response_parser parser;
  unsigned mode = data[0] % 6;
  bool in_place = (data[0] & 0x80) != 0;
  std::size_t n = size - 1;
  auto buffer = std::make_unique<char[]>(n + (in_place ? 64 : 1));
  std::copy(data + 1, data + size, buffer.get());
  if (in_place) std::memset(buffer.get() + n, ' ', 64);
  std::string_view body(buffer.get(), n);
  std::size_t readable = in_place ? n + 64 : n;

  if (mode < op_kind_count) {
    patch_verdict verdict;
    bool is_job = parser.check_patch(updates()[mode], body, readable, verdict);
    if (!is_job) require(!verdict.error.empty() && !verdict.job_matches, "no job but no error");
    require(!verdict.verified || verdict.job_matches, "verified a different job");
    require(verdict.verified || !verdict.error.empty() || !verdict.job_matches,
            "neither verified nor an error");
  } else if (mode == 4) {
    std::string text = secret_scrubber{}.shown(parser.error_text(body, readable));
    require(text.size() <= 520, "error text not bounded");
    // Printable on a terminal: no C0/DEL, no C1 (U+0080..U+009F), nothing but UTF-8.
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      require(c >= 0x20 && c != 0x7F, "control byte in error text");
      require(!(c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0),
              "C1 control in error text");
    }
  } else {
    std::string error;
    auto token = parser.parse_access_token(body, readable, error);
    if (token) {
      require(!token->token.empty() || token->refused_bytes > max_token_bytes,
              "empty token accepted");
      require(token->token.size() <= max_token_bytes, "token over the limit accepted");
      require(!has_header_unsafe_byte(token->token), "token unsafe in a header accepted");
      require(!token->expires_in || token->expires_in->count() > 0, "non-positive lifetime");
    } else {
      require(!error.empty(), "no token and no error");
    }
  }
  return 0;
}

} // namespace jobpatch::fuzz
