#pragma once
// Writes the exact bytes of the HTTP/1.1 requests jobpatch sends.

#include <jobpatch/manifest/operation.hpp>

#include <string>
#include <string_view>
#include <vector>

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

// "<base_path>/v1/customer/jobs/<encoded id>", the job's own document (GET), into `out`.
void assign_job_target(std::string& out, std::string_view base_path, std::string_view job_id);

// Checks one -H/--header argument, "Name: value": the name must be an RFC 9110 token,
// neither name nor value may hold CR, LF, NUL or another control character (but tab),
// and the headers jobpatch owns (Authorization, Host, Content-Length, Transfer-Encoding,
// Connection, Proxy-Authorization, TE, Upgrade) cannot be set. Returns "Name: value"
// (spaces around the value trimmed) in `normalized` and an empty string, or why it is
// refused; the refusal never quotes the value (it may be a secret).
std::string check_extra_header(std::string_view header, std::string& normalized);

// Builds requests for one server. Header values are checked once, here: a value holding
// CR, LF or another control character is refused (std::invalid_argument), so nothing a
// server or a file supplies can inject a header.
class request_builder {
public:
  // `extra_headers` ("Name: value", as check_extra_header() returns them) go on every
  // request; one named User-Agent, Accept or Content-Type replaces jobpatch's own.
  // Throws std::invalid_argument on one that check_extra_header() refuses.
  request_builder(std::string host_header, std::string base_path, std::string user_agent,
                  std::vector<std::string> extra_headers = {});

  const std::string& base_path() const noexcept { return base_path_; }

  // Appends a PATCH of `body` to `target` carrying `authorization` to `out`.
  void append_patch(std::string& out, std::string_view target, std::string_view authorization,
                    std::string_view body) const;

  // Appends a GET of `target` (no body, so neither Content-Type nor Content-Length)
  // carrying `authorization` to `out`.
  void append_get(std::string& out, std::string_view target, std::string_view authorization) const;

  // Appends the token exchange POST /v1/auth/access_token {"apiKey": key}.
  void append_token_request(std::string& out, std::string_view api_key) const;

  // True when `value` may be sent as a header value (no control characters).
  static bool is_safe_header_value(std::string_view value) noexcept;

private:
  // The one request layout all use; no Authorization header when it is empty, no
  // Content-Type and Content-Length without `has_body`.
  void append_request(std::string& out, std::string_view method, std::string_view path_prefix,
                      std::string_view path, std::string_view authorization, std::string_view body,
                      bool has_body = true) const;

  std::string host_header_, base_path_, user_agent_;
  std::string content_type_;  // "\r\nContent-Type: ..." unless an extra header sets it
  std::string fixed_headers_; // Accept, User-Agent and the extra headers
};

} // namespace jobpatch
