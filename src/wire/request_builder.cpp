#include <jobpatch/wire/request_builder.hpp>

#include <jobpatch/results/json_text.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

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

request_builder::request_builder(std::string host_header, std::string base_path,
                                 std::string user_agent)
    : host_header_(std::move(host_header)), base_path_(std::move(base_path)),
      user_agent_(std::move(user_agent)) {
  if (!is_safe_header_value(host_header_) || !is_safe_header_value(user_agent_) ||
      !is_safe_header_value(base_path_) || base_path_.find_first_of(" ?#") != std::string::npos)
    throw std::invalid_argument("the base URL holds characters that cannot be sent");
}

void request_builder::append_request(std::string& out, std::string_view method,
                                     std::string_view path_prefix, std::string_view path,
                                     std::string_view authorization, std::string_view body) const {
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
  out += "\r\nContent-Type: application/json\r\nAccept: application/json\r\nUser-Agent: ";
  out += user_agent_;
  out += "\r\nContent-Length: ";
  append_uint(out, body.size());
  out += "\r\n\r\n";
  out += body;
}

void request_builder::append_patch(std::string& out, std::string_view target,
                                   std::string_view authorization, std::string_view body) const {
  if (!is_safe_header_value(authorization))
    throw std::invalid_argument("refusing to send an Authorization value with control characters");
  append_request(out, "PATCH", {}, target, authorization, body);
}

void request_builder::append_token_request(std::string& out, std::string_view api_key) const {
  std::string body = "{\"apiKey\":";
  append_json_string(body, api_key);
  body += '}';
  append_request(out, "POST", base_path_, "/v1/auth/access_token", {}, body);
}

} // namespace jobpatch
