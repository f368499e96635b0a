#pragma once
// Fuzz entry functions: each takes arbitrary bytes, drives one parser of untrusted input
// and checks its invariants (a broken invariant throws std::logic_error). The libFuzzer
// executables (libfuzzer_main.cpp, clang only) and the doctest replay of the corpora
// and regressions (test_fuzz_replay.cpp, any compiler) call the same functions.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace jobpatch::fuzz {

// One manifest line through line_validator::validate (with and without spare bytes).
int line_validator_entry(const std::uint8_t* data, std::size_t size);
// The bytes as a whole manifest (memfd) through manifest_reader and line_source.
int manifest_reader_entry(const std::uint8_t* data, std::size_t size);
// First byte picks: check_patch against a fixed valid update of each op, error_text,
// or parse_access_token; the rest is the response body.
int response_parser_entry(const std::uint8_t* data, std::size_t size);
// A GET answer (first byte: copied or not) parsed, compared with an update of each op and
// made into undo lines.
int job_document_entry(const std::uint8_t* data, std::size_t size);
// First byte picks the op (and whether the body is copied); the rest is the body.
int body_validator_entry(const std::uint8_t* data, std::size_t size);
// First byte picks "now"; the rest is a Retry-After header value.
int retry_after_entry(const std::uint8_t* data, std::size_t size);
// A loopback server answers one plain-HTTP request of http_connection::exchange with the
// bytes (first byte: write segment size) and closes; the exchange must end, bounded.
int http_response_entry(const std::uint8_t* data, std::size_t size);

// Throws when an invariant does not hold (libFuzzer reports it as a crash).
inline void require(bool condition, const char* what) {
  if (!condition) throw std::logic_error(what);
}

} // namespace jobpatch::fuzz
