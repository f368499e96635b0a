#include "mock/mock_api.hpp"

#include <jobpatch/manifest/body_validator.hpp>
#include <jobpatch/text/json_text.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <ctime>

namespace jobpatch::mock {

namespace json = boost::json;

namespace {

constexpr std::string_view jobs_prefix = "/v1/customer/jobs/";

// google.rpc.Code values of the statuses the mock answers with.
constexpr int rpc_invalid_argument = 3, rpc_not_found = 5, rpc_resource_exhausted = 8,
              rpc_unimplemented = 12, rpc_internal = 13, rpc_unavailable = 14,
              rpc_unauthenticated = 16;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path under jobs_prefix: /{id} (GET) or /{id}/{op} (PATCH).
struct job_route {
  std::string_view segment; // the job id, still percent-encoded
  bool has_op = false;
  std::optional<op_kind> op;

  bool found() const noexcept { return !segment.empty() && (!has_op || op); }
  // Where the request is counted in /mock/stats.
  endpoint counted_as() const noexcept {
    if (!found()) return endpoint::other;
    return has_op ? endpoint_of(*op) : endpoint::get_job;
  }
};

job_route parse_job_route(std::string_view rest) {
  job_route route;
  route.segment = rest.substr(0, rest.find('/'));
  route.has_op = route.segment.size() < rest.size();
  if (route.has_op) route.op = parse_op_kind(rest.substr(route.segment.size() + 1));
  return route;
}

std::string_view path_of(const api_request& request) noexcept {
  return request.target.substr(0, request.target.find('?'));
}

std::string rfc3339_in(std::chrono::seconds from_now) {
  std::time_t t = std::time(nullptr) + from_now.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

} // namespace

// Fills `reply` with a google.rpc.Status error body (not counted).
static void set_error(api_reply& reply, int status, int code, std::string_view message) {
  reply.status = status;
  reply.body.clear();
  reply.body += R"({"code":)";
  append_int(reply.body, code);
  reply.body += R"(,"message":)";
  append_json_string(reply.body, message);
  reply.body += R"(,"details":[]})";
}

std::size_t compose_response(const api_reply& reply, std::string& wire) {
  std::string_view reason;
  switch (reply.status) {
  case 200:
    reason = "OK";
    break;
  case 400:
    reason = "Bad Request";
    break;
  case 401:
    reason = "Unauthorized";
    break;
  case 403:
    reason = "Forbidden";
    break;
  case 404:
    reason = "Not Found";
    break;
  case 405:
    reason = "Method Not Allowed";
    break;
  case 408:
    reason = "Request Timeout";
    break;
  case 413:
    reason = "Content Too Large";
    break;
  case 429:
    reason = "Too Many Requests";
    break;
  case 431:
    reason = "Request Header Fields Too Large";
    break;
  case 500:
    reason = "Internal Server Error";
    break;
  case 503:
    reason = "Service Unavailable";
    break;
  default:
    reason = "Unknown";
    break;
  }
  wire.clear();
  wire += "HTTP/1.1 ";
  append_int(wire, reply.status);
  wire += ' ';
  wire += reason;
  wire += "\r\nServer: jobpatch-mock\r\nContent-Type: application/json\r\nContent-Length: ";
  append_uint(wire, reply.body.size());
  if (reply.retry_after >= 0) {
    wire += "\r\nRetry-After: ";
    append_int(wire, reply.retry_after);
  }
  if (reply.close) wire += "\r\nConnection: close";
  wire += "\r\n\r\n";
  std::size_t header_size = wire.size();
  wire += reply.body;
  return header_size;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

fault draw_fault(const fault_rates& rates, fault_rng& rng) noexcept {
  if (!rates.any()) return fault::none;
  double u = rng.uniform(), edge = 0;
  if (u < (edge += rates.fail_429)) return fault::fail_429;
  if (u < (edge += rates.fail_503)) return fault::fail_503;
  if (u < (edge += rates.fail_500)) return fault::fail_500;
  if (u < (edge += rates.drop)) return fault::drop;
  if (u < (edge += rates.truncate)) return fault::truncate;
  return fault::none;
}

mock_api::mock_api(const mock_options& options, job_store& store, token_table& tokens,
                   mock_stats& stats)
    : options_(options), store_(store), tokens_(tokens), stats_(stats) {
  if (options_.capacity.enabled())
    capacity_.emplace(options_.capacity, std::chrono::steady_clock::now());
}

void mock_api::start_capacity_clock(std::chrono::steady_clock::time_point origin) {
  std::lock_guard lock(capacity_mutex_);
  if (capacity_) capacity_.emplace(options_.capacity, origin);
}

capacity_pass mock_api::admit(const api_request& request, std::chrono::steady_clock::time_point now,
                              api_reply& reply) {
  capacity_pass pass{false, now};
  std::string_view path = path_of(request);
  if (!options_.capacity.enabled() || !path.starts_with(jobs_prefix)) return pass;
  job_route route = parse_job_route(path.substr(jobs_prefix.size()));
  // A PATCH arrives now, whether it is served (patch_job() runs when its service ends) or
  // refused.
  if (route.found() && route.has_op && request.verb == method::patch) stats_.patch_arrived(now);
  admission_result admitted;
  {
    std::lock_guard lock(capacity_mutex_);
    admitted = capacity_->arrive(now);
  }
  if (admitted.verdict != admission::rejected) {
    pass.answer_at = admitted.done;
    return pass;
  }
  reply.reset();
  reply.delay = options_.latency;
  error(route.counted_as(), 503, rpc_unavailable, "server at capacity (--capacity)", reply);
  reply.retry_after = 1;
  pass.refused = true;
  return pass;
}

std::string mock_api::stats_json(std::chrono::steady_clock::time_point now) const {
  std::optional<capacity_report> report;
  {
    std::lock_guard lock(capacity_mutex_);
    if (capacity_) report = capacity_->report(now);
  }
  return stats_.to_json(store_.applied(), report ? &*report : nullptr);
}

void mock_api::error(endpoint ep, int status, int code, std::string_view message,
                     api_reply& reply) {
  set_error(reply, status, code, message);
  stats_.request(ep, status);
}

void mock_api::protocol_error(int status, std::string_view message, api_reply& reply) {
  reply.reset();
  error(endpoint::other, status, rpc_invalid_argument, message, reply);
  reply.close = true;
}

void mock_api::handle(const api_request& request, fault_rng& rng, api_reply& reply) {
  reply.reset();
  std::string_view path = path_of(request);

  if (path.starts_with(jobs_prefix)) {
    reply.delay = options_.latency;
    job_route route = parse_job_route(path.substr(jobs_prefix.size()));
    if (!route.found()) {
      error(endpoint::other, 404, rpc_not_found, "no such route", reply);
      return;
    }
    thread_local std::string job_id;
    if (!percent_decode(route.segment, job_id)) {
      error(route.counted_as(), 400, rpc_invalid_argument,
            "malformed percent-encoding in the job id", reply);
      return;
    }
    if (route.has_op) {
      endpoint ep = route.counted_as();
      if (request.verb != method::patch) {
        error(ep, 405, rpc_unimplemented, "method not allowed; use PATCH", reply);
        return;
      }
      patch_job(request, job_id, *route.op, ep, rng, reply);
    } else {
      if (request.verb != method::get) {
        error(endpoint::get_job, 405, rpc_unimplemented, "method not allowed; use GET", reply);
        return;
      }
      get_job(request, job_id, rng, reply);
    }
    return;
  }
  if (path == "/v1/auth/access_token") {
    reply.delay = options_.latency;
    if (request.verb != method::post) {
      error(endpoint::access_token, 405, rpc_unimplemented, "method not allowed; use POST", reply);
      return;
    }
    access_token(request, reply);
    return;
  }
  if (path == "/mock/stats") {
    if (request.verb != method::get) {
      error(endpoint::stats, 405, rpc_unimplemented, "method not allowed; use GET", reply);
      return;
    }
    reply.body = stats_json(std::chrono::steady_clock::now());
    stats_.request(endpoint::stats, 200);
    return;
  }
  error(endpoint::other, 404, rpc_not_found, "no such route", reply);
}

void mock_api::access_token(const api_request& request, api_reply& reply) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  const json::value* key = nullptr;
  if (!ec && body.is_object()) key = body.get_object().if_contains("apiKey");
  if (!key || !key->is_string()) {
    error(endpoint::access_token, 400, rpc_invalid_argument,
          R"(the body must be a JSON object with a string "apiKey")", reply);
    return;
  }
  if (key->get_string() != options_.api_key) {
    error(endpoint::access_token, 401, rpc_unauthenticated, "invalid API key", reply);
    return;
  }
  std::string token = tokens_.issue(token_table::clock::now());
  stats_.token_issued();
  reply.body += R"({"token":)";
  append_json_string(reply.body, token);
  reply.body += R"(,"expiresIn":")";
  append_int(reply.body, tokens_.ttl().count());
  reply.body += R"(","expiresAt":")";
  reply.body += rfc3339_in(tokens_.ttl());
  reply.body += R"("})";
  stats_.request(endpoint::access_token, 200);
}

bool mock_api::authorized(const api_request& request, endpoint ep, api_reply& reply) {
  token_status status = tokens_.check(request.authorization, token_table::clock::now());
  if (status == token_status::valid) return true;
  error(ep, 401, rpc_unauthenticated, to_string(status), reply);
  return false;
}

void mock_api::patch_job(const api_request& request, std::string_view job_id, op_kind op,
                         endpoint ep, fault_rng& rng, api_reply& reply) {
  if (!options_.capacity.enabled())
    stats_.patch_arrived(std::chrono::steady_clock::now()); // else in admit()
  fault f = draw_fault(options_.faults, rng);
  if (inject_error(f, ep, reply)) return;
  if (f == fault::drop) {
    reply.action = reply_action::drop;
    if (rng.next() & 1) {
      stats_.dropped(ep, false);
      return;
    } // else applied below, then dropped
  } else if (f == fault::truncate) {
    stats_.fault_injected(f);
    reply.action = reply_action::truncate;
  }

  // A drop that applies goes through every check first; it counts as "dropped".
  apply_patch(request, job_id, op, reply);
  if (reply.action == reply_action::drop)
    stats_.dropped(ep, reply.status == 200);
  else
    stats_.request(ep, reply.status);
}

void mock_api::apply_patch(const api_request& request, std::string_view job_id, op_kind op,
                           api_reply& reply) {
  token_status token = tokens_.check(request.authorization, token_table::clock::now());
  if (token != token_status::valid) {
    set_error(reply, 401, rpc_unauthenticated, to_string(token));
    return;
  }
  thread_local body_validator validator;
  if (!validator.validate(op, request.body, request.body_readable)) {
    set_error(reply, 400, rpc_invalid_argument, validator.error());
    return;
  }
  std::string why;
  switch (store_.apply(job_id, op, request.body, reply.body, why)) {
  case apply_result::applied:
    reply.status = 200;
    return;
  case apply_result::not_found:
    set_error(reply, 404, rpc_not_found, "job not found");
    return;
  case apply_result::bad_body:
    set_error(reply, 400, rpc_invalid_argument, why);
    return;
  }
}

bool mock_api::inject_error(fault f, endpoint ep, api_reply& reply) {
  switch (f) {
  case fault::fail_429:
    error(ep, 429, rpc_resource_exhausted, "rate limit exceeded (injected)", reply);
    break;
  case fault::fail_503:
    error(ep, 503, rpc_unavailable, "temporarily unavailable (injected)", reply);
    reply.retry_after = static_cast<int>(options_.retry_after_seconds);
    break;
  case fault::fail_500:
    error(ep, 500, rpc_internal, "internal error (injected)", reply);
    break;
  default:
    return false;
  }
  stats_.fault_injected(f);
  return true;
}

void mock_api::get_job(const api_request& request, std::string_view job_id, fault_rng& rng,
                       api_reply& reply) {
  fault f = options_.faults.reads ? draw_fault(options_.faults, rng) : fault::none;
  if (inject_error(f, endpoint::get_job, reply)) return;
  if (!authorized(request, endpoint::get_job, reply)) return;
  if (!store_.render(job_id, reply.body)) {
    error(endpoint::get_job, 404, rpc_not_found, "job not found", reply);
    return;
  }
  if (f == fault::drop) {
    stats_.dropped(endpoint::get_job, false);
    reply.action = reply_action::drop;
    return;
  }
  if (f == fault::truncate) {
    stats_.fault_injected(f);
    reply.action = reply_action::truncate;
    return;
  }
  stats_.request(endpoint::get_job, 200);
}

} // namespace jobpatch::mock
