#pragma once
// The mock's API logic without any I/O: routing, faults, authentication, schema checks and
// the job store. The server reads a request, calls handle(), and carries out the reply.

#include "mock/capacity_model.hpp"
#include "mock/job_store.hpp"
#include "mock/mock_options.hpp"
#include "mock/mock_stats.hpp"
#include "mock/token_table.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch::mock {

// Small fast PRNG (SplitMix64) for fault decisions; one per connection, no locking.
class fault_rng {
public:
  explicit fault_rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
  std::uint64_t state_;
};

// Picks the fault of one request, if any (see fault_rates for the rule).
fault draw_fault(const fault_rates& rates, fault_rng& rng) noexcept;

enum class method : std::uint8_t { get, post, patch, other };

struct api_request {
  method verb = method::other;
  std::string_view target;        // origin-form, may carry a query
  std::string_view authorization; // header value, empty when absent
  std::string_view body;
  std::size_t body_readable = 0; // readable bytes from body.data() (simdjson padding)
};

enum class reply_action : std::uint8_t {
  respond,  // send the whole answer
  drop,     // close the connection without answering
  truncate, // send the headers and part of the body, then close
};

// What to send back. Reused across the requests of a connection.
struct api_reply {
  int status = 200;
  std::string body;
  int retry_after = -1; // seconds; sent as Retry-After when >= 0
  reply_action action = reply_action::respond;
  bool close = false; // close after answering
  std::chrono::milliseconds delay{0};

  void reset() noexcept {
    status = 200;
    body.clear();
    retry_after = -1;
    action = reply_action::respond;
    close = false;
    delay = std::chrono::milliseconds(0);
  }
};

// The capacity model's word on one request (--capacity, capacity_model.hpp).
struct capacity_pass {
  bool refused = false; // answered at once: its 503 is in the reply, nothing was done
  std::chrono::steady_clock::time_point answer_at{}; // else served then: wait until it
};

// Thread-safe as long as each thread passes its own fault_rng.
class mock_api {
public:
  mock_api(const mock_options& options, job_store& store, token_table& tokens, mock_stats& stats);

  // Called for each request before handle(). Under --capacity a request of the job API
  // (any under /v1/customer/jobs/: the PATCHes and GETs of jobs, wrong methods and ids
  // too) goes through the capacity model: refused with a 503 and Retry-After: 1 when its
  // queue is full (in `reply`; handle() must not be called), else answered once its
  // service ends. Any other request (the token exchange, /mock/stats, a request the
  // server could not parse), or no --capacity: answered at `now`.
  capacity_pass admit(const api_request& request, std::chrono::steady_clock::time_point now,
                      api_reply& reply);
  // The zero of --capacity-after's times: the server calls it once listening.
  void start_capacity_clock(std::chrono::steady_clock::time_point origin);

  void handle(const api_request& request, fault_rng& rng, api_reply& reply);

  // The /mock/stats document at `now`.
  std::string stats_json(std::chrono::steady_clock::time_point now) const;

  // An answer to a request that could not be parsed (400, 413, 431, ...), which also
  // closes the connection.
  void protocol_error(int status, std::string_view message, api_reply& reply);

  mock_stats& stats() noexcept { return stats_; }

private:
  void access_token(const api_request& request, api_reply& reply);
  void patch_job(const api_request& request, std::string_view job_id, op_kind op, endpoint ep,
                 fault_rng& rng, api_reply& reply);
  void get_job(const api_request& request, std::string_view job_id, fault_rng& rng,
               api_reply& reply);
  // Answers an injected 429/503/500 for `f` and returns true; false for any other fault.
  bool inject_error(fault f, endpoint ep, api_reply& reply);
  void apply_patch(const api_request& request, std::string_view job_id, op_kind op,
                   api_reply& reply);
  bool authorized(const api_request& request, endpoint ep, api_reply& reply);
  void error(endpoint ep, int status, int code, std::string_view message, api_reply& reply);

  const mock_options& options_;
  job_store& store_;
  token_table& tokens_;
  mock_stats& stats_;
  mutable std::mutex capacity_mutex_;      // the model, with several I/O threads
  std::optional<capacity_model> capacity_; // with --capacity
};

// Writes the HTTP/1.1 answer for `reply` into `wire` (headers and body); returns the size
// of the headers, for a truncated answer.
std::size_t compose_response(const api_reply& reply, std::string& wire);

// Decodes %XX escapes of one path segment; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

} // namespace jobpatch::mock
