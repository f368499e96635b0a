#include <jobpatch/wire/request_builder.hpp>

#include <jobpatch/text/json_text.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace jobpatch {

void append_encoded_segment(std::string& out, std::string_view job_id) {
  std::size_t n = boost::urls::encoded_size(job_id, boost::urls::unreserved_chars);
  std::size_t at = out.size();
  out.resize(at + n);
  boost::urls::encode(out.data() + at, n, job_id, boost::urls::unreserved_chars);
}

void assign_patch_target(std::string& out, std::string_view base_path, std::string_view job_id,
                         op_kind op) {
  out.assign(base_path);
  out += "/v1/customer/jobs/";
  append_encoded_segment(out, job_id);
  out += '/';
  out += to_string(op);
}

void assign_job_target(std::string& out, std::string_view base_path, std::string_view job_id) {
  out.assign(base_path);
  out += "/v1/customer/jobs/";
  append_encoded_segment(out, job_id);
}

std::string patch_target(std::string_view base_path, std::string_view job_id, op_kind op) {
  std::string out;
  assign_patch_target(out, base_path, job_id, op);
  return out;
}

bool request_builder::is_safe_header_value(std::string_view value) noexcept {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) return false;
  }
  return true;
}

namespace {

bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view header_name(std::string_view line) { return line.substr(0, line.find(':')); }

} // namespace

std::string check_extra_header(std::string_view header, std::string& normalized) {
  auto colon = header.find(':');
  if (colon == std::string_view::npos) return "-H needs 'Name: value' (no ':' found)";
  std::string_view name = header.substr(0, colon), value = header.substr(colon + 1);
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
    return "-H: the header name must be a token (letters, digits and !#$%&'*+-.^_`|~), got '" +
           std::string(name.substr(0, 64)) + "'";
  if (!request_builder::is_safe_header_value(value))
    return "-H " + std::string(name) +
           ": the value holds a control character (CR, LF, NUL...), which could inject headers";
  if (same_name(name, "Authorization"))
    return "-H Authorization cannot be set: jobpatch sends the access token it exchanges "
           "from the API key there (set the key with BYTENITE_API_KEY or --api-key-file)";
  for (std::string_view owned : {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                                 "Proxy-Authorization", "TE", "Upgrade"})
    if (same_name(name, owned))
      return "-H " + std::string(owned) +
             " cannot be set: jobpatch writes it itself (the base URL, the body, the "
             "connection and the proxy URL decide it)";
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  normalized = std::string(name) + ": " + std::string(value);
  return {};
}

request_builder::request_builder(std::string host_header, std::string base_path,
                                 std::string user_agent, std::vector<std::string> extra_headers)
    : host_header_(std::move(host_header)), base_path_(std::move(base_path)),
      user_agent_(std::move(user_agent)) {
  if (!is_safe_header_value(host_header_) || !is_safe_header_value(user_agent_) ||
      !is_safe_header_value(base_path_) || base_path_.find_first_of(" ?#") != std::string::npos)
    throw std::invalid_argument("the base URL holds characters that cannot be sent");
  auto given = [&](std::string_view name) {
    return std::any_of(extra_headers.begin(), extra_headers.end(),
                       [&](const std::string& h) { return same_name(header_name(h), name); });
  };
  if (!given("Content-Type")) content_type_ = "\r\nContent-Type: application/json";
  if (!given("Accept")) fixed_headers_ += "\r\nAccept: application/json";
  if (!given("User-Agent")) fixed_headers_ += "\r\nUser-Agent: " + user_agent_;
  for (const auto& header : extra_headers) {
    std::string normalized;
    if (std::string why = check_extra_header(header, normalized); !why.empty())
      throw std::invalid_argument(why);
    fixed_headers_ += "\r\n" + normalized;
  }
}

void request_builder::append_request(std::string& out, std::string_view method,
                                     std::string_view path_prefix, std::string_view path,
                                     std::string_view authorization, std::string_view body,
                                     bool has_body) const {
  out += method;
  out += ' ';
  out += path_prefix;
  out += path;
  out += " HTTP/1.1\r\nHost: ";
  out += host_header_;
  if (!authorization.empty()) {
    out += "\r\nAuthorization: ";
    out += authorization;
  }
  if (has_body) out += content_type_;
  out += fixed_headers_;
  if (has_body) {
    out += "\r\nContent-Length: ";
    append_uint(out, body.size());
  }
  out += "\r\n\r\n";
  out += body;
}

void request_builder::append_patch(std::string& out, std::string_view target,
                                   std::string_view authorization, std::string_view body) const {
  if (!is_safe_header_value(authorization))
    throw std::invalid_argument("refusing to send an Authorization value with control characters");
  append_request(out, "PATCH", {}, target, authorization, body);
}

void request_builder::append_get(std::string& out, std::string_view target,
                                 std::string_view authorization) const {
  if (!is_safe_header_value(authorization))
    throw std::invalid_argument("refusing to send an Authorization value with control characters");
  append_request(out, "GET", {}, target, authorization, {}, false);
}

void request_builder::append_token_request(std::string& out, std::string_view api_key) const {
  std::string body = "{\"apiKey\":";
  append_json_string(body, api_key);
  body += '}';
  append_request(out, "POST", base_path_, "/v1/auth/access_token", {}, body);
}

} // namespace jobpatch
