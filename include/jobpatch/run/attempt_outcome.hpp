#pragma once
// How one HTTP attempt ended, classified once by the engine and shared by the retry
// policy, the failure detector and the statistics so that all three agree.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jobpatch {

// Error classes of one attempt; `none` is a success, `http_status` an answer with a
// non-success status (see attempt_outcome::status), the rest failures below HTTP.
enum class error_class : std::uint8_t {
  none,            // 2xx answer: the update was applied
  http_status,     // the server answered with a non-2xx status
  connect_refused, // TCP connection actively refused (RST on SYN)
  connect_failed,  // TCP connect failed otherwise (unreachable, connect timeout)
  resolve,         // host name did not resolve
  tls_handshake,   // TLS handshake or TLS read failed (not a certificate problem)
  // Peer certificate or host name did not verify, the server refused our client
  // certificate, or it does not speak the scheme of --base-url: nothing a retry mends.
  tls_verify,
  timeout,            // per-attempt timeout expired after the request was sent
  reset,              // connection reset or closed before a response started
  truncated,          // response ended before its declared end
  malformed_response, // bytes that are not a valid HTTP response
  auth_failed,        // token exchange failed, or 401 again after a token refresh
  cancelled,          // the run is stopping (signal, deadline); not the server's fault
};

inline constexpr std::size_t error_class_count = 13;

// Human wording for reports and abort messages ("connection refused").
std::string_view to_string(error_class c) noexcept;

// Short stable identifier for machine-readable output ("connect_refused").
std::string_view identifier(error_class c) noexcept;

// One attempt's outcome: the class plus the HTTP status when there was an answer.
struct attempt_outcome {
  error_class cls = error_class::none;
  int status = 0; // HTTP status when an answer was received, else 0

  // A 2xx answer.
  static constexpr attempt_outcome success(int status = 200) noexcept {
    return {error_class::none, status};
  }
  // A non-2xx answer.
  static constexpr attempt_outcome http(int status) noexcept {
    return {error_class::http_status, status};
  }
  // A failure below HTTP (transport, TLS, auth exchange, cancellation).
  static constexpr attempt_outcome failure(error_class c) noexcept { return {c, 0}; }

  // True when the update was applied.
  constexpr bool ok() const noexcept { return cls == error_class::none; }
  friend constexpr bool operator==(attempt_outcome, attempt_outcome) noexcept = default;
};

} // namespace jobpatch
