#pragma once
// Reads what the API answered: the job document of a 200, the error text of a failure,
// the access token of the token exchange. simdjson stays inside the implementation.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/wire/server_text.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

// What a 200 answer to a PATCH says.
struct patch_verdict {
  bool job_matches = false; // job.id equals the id the update was sent for
  bool verified = false;    // every field that was sent reads back with the sent value
  server_text state;        // job.state, when present
  server_text answered_id;  // job.id, when it is another job's
  std::string error;        // why the body is no job document, or what did not verify
};

// Parses responses; reuses its parsers and scratch buffers between calls (no allocation
// per response once warm). Not thread-safe: one per thread.
class response_parser {
public:
  response_parser();
  ~response_parser();
  response_parser(response_parser&&) noexcept;
  response_parser& operator=(response_parser&&) noexcept;

  // Checks a 200 body against the update `op`. `readable`: bytes readable from
  // body.data() (body.size() + 64 avoids a copy). Returns false when the body is not a
  // job document at all (invalid JSON, no "job" object); verdict.error says why. The
  // verdict's server texts are valid until the parser's next call.
  bool check_patch(update_view op, std::string_view body, std::size_t readable,
                   patch_verdict& verdict);

  // The human error text of a non-2xx answer: google.rpc.Status "message", the
  // {"ok":false,"error":{...}} shape (500 bytes of it shown), or a non-JSON body itself
  // (200 bytes shown). Empty when the body says nothing. Valid while `body` is and until
  // the parser's next call.
  server_text error_text(std::string_view body, std::size_t readable = 0);

  // The token exchange answer {"token": "...", "expiresIn": "3600" | 3600}.
  struct access_token {
    std::string token;
    std::optional<std::chrono::seconds> expires_in;
    // The size of a token over max_token_bytes, which is not copied (`token` stays
    // empty): the caller refuses it as such. 0 otherwise.
    std::size_t refused_bytes = 0;
  };
  // Returns nullopt with `error` set when no token is found. A token with characters
  // that cannot go in a header (controls, CR/LF) is refused; one over max_token_bytes is
  // returned empty, its size in refused_bytes.
  std::optional<access_token> parse_access_token(std::string_view body, std::size_t readable,
                                                 std::string& error);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Token lifetimes are kept within these bounds: an absurd expiresIn (1e10, an epoch in
// milliseconds) must not overflow `now + lifetime` into the past, nor a tiny one make
// every request wait for a token exchange.
inline constexpr std::chrono::seconds min_token_lifetime{2};
inline constexpr std::chrono::seconds max_token_lifetime{24 * 3600};
inline constexpr std::chrono::seconds default_token_lifetime{900}; // when none is given

// The largest access token taken (a JWT is a few KB): the token goes into every request
// and, with its spellings, into the secret scrubber for as long as it is valid.
inline constexpr std::size_t max_token_bytes = std::size_t{64} << 10;

// The lifetime to plan with for an answer's expiresIn: missing, zero or negative gives
// default_token_lifetime (a 401 still triggers a refresh), anything else is clamped to
// [min_token_lifetime, max_token_lifetime].
std::chrono::seconds token_lifetime(std::optional<std::chrono::seconds> expires_in) noexcept;

} // namespace jobpatch
