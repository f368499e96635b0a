#include <jobpatch/run/attempt_outcome.hpp>

#include <array>

namespace jobpatch {
namespace {
constexpr std::array<std::string_view, error_class_count> human_names = {
    "ok",
    "HTTP error status",
    "connection refused",
    "connection failed",
    "host name not resolved",
    "TLS handshake failed",
    "TLS certificate verification failed",
    "timed out",
    "connection reset",
    "truncated response",
    "malformed response",
    "authentication failed",
    "cancelled",
};
constexpr std::array<std::string_view, error_class_count> identifiers = {
    "none",      "http_status",   "connect_refused",    "connect_failed",
    "resolve",   "tls_handshake", "tls_verify",         "timeout",
    "reset",     "truncated",     "malformed_response", "auth_failed",
    "cancelled",
};
} // namespace

std::string_view to_string(error_class c) noexcept {
  auto i = static_cast<std::size_t>(c);
  return i < human_names.size() ? human_names[i] : std::string_view("unknown error");
}

std::string_view identifier(error_class c) noexcept {
  auto i = static_cast<std::size_t>(c);
  return i < identifiers.size() ? identifiers[i] : std::string_view("unknown");
}

} // namespace jobpatch
