#pragma once
// Writes the exact bytes of the HTTP/1.1 requests jobpatch sends.

#include <jobpatch/manifest/operation.hpp>

#include <string>
#include <string_view>

namespace jobpatch {

// Percent-encodes `job_id` as one path segment: every byte outside RFC 3986
// "unreserved" is encoded, so '/', '?', '#', '%', spaces, CR/LF and non-ASCII can never
// change the path, the query or the host.
void append_encoded_segment(std::string& out, std::string_view job_id);

// "<base_path>/v1/customer/jobs/<encoded id>/<op>"
std::string patch_target(std::string_view base_path, std::string_view job_id, op_kind op);
// The same into `out`, reusing its capacity (no allocation once warm).
void assign_patch_target(std::string& out, std::string_view base_path, std::string_view job_id,
                         op_kind op);

// Builds requests for one server. Header values are checked once, here: a value holding
// CR, LF or another control character is refused (std::invalid_argument), so nothing a
// server or a file supplies can inject a header.
class request_builder {
public:
  request_builder(std::string host_header, std::string base_path, std::string user_agent);

  const std::string& base_path() const noexcept { return base_path_; }

  // Appends a PATCH of `body` to `target` carrying `authorization` to `out`.
  void append_patch(std::string& out, std::string_view target, std::string_view authorization,
                    std::string_view body) const;

  // Appends the token exchange POST /v1/auth/access_token {"apiKey": key}.
  void append_token_request(std::string& out, std::string_view api_key) const;

  // True when `value` may be sent as a header value (no control characters).
  static bool is_safe_header_value(std::string_view value) noexcept;

private:
  // The one request layout both use; no Authorization header when it is empty.
  void append_request(std::string& out, std::string_view method, std::string_view path_prefix,
                      std::string_view path, std::string_view authorization,
                      std::string_view body) const;

  std::string host_header_, base_path_, user_agent_;
};

} // namespace jobpatch
