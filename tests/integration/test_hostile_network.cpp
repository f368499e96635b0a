// jobpatch apply through a fault-injecting TCP proxy (latency and jitter, tiny segments,
// stalls beyond the attempt timeout, resets mid-request and mid-response, a bandwidth
// cap) to jobpatch-mock, TLS verified end to end: every line ends ok, exactly once, and
// each job's updates reach the server in manifest order.

#include "apply_runner.hpp"
#include "fault_proxy.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

struct network_run {
  int code = -1;
  double seconds = 0;
  fault_proxy_stats proxy;
  std::string order_error;
  std::size_t records = 0, distinct_lines = 0, ok = 0;
  std::int64_t retries = 0;
  std::string stderr_text;
};

// `lines` lines over `jobs` jobs through a fault_proxy with `options` to a fresh mock.
network_run apply_through_proxy(fault_proxy_options options, unsigned lines, unsigned jobs) {
  network_run out;
  mock_process mock({}, jobs);
  auto manifest = make_manifest(mock, "m.ndjson", lines, jobs, 11);
  options.upstream_port = mock.port();
  fault_proxy proxy(options);
  auto start = std::chrono::steady_clock::now();
  child_process run({JOBPATCH_BIN, "apply", manifest, "--base-url",
                     "https://localhost:" + std::to_string(proxy.port()), "--cacert", mock.cert(),
                     "--connections", "32", "--max-attempts", "25", "--timeout", "3", "--results",
                     mock.path("r.ndjson"), "--summary-json", mock.path("s.json")},
                    {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("apply.out"),
                    mock.path("apply.err"));
  out.code = run.wait(std::chrono::seconds(120));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.proxy = proxy.stats();
  out.stderr_text = read_file(mock.path("apply.err"));
  std::set<std::uint64_t> seen;
  for (const auto& line : read_lines(mock.path("r.ndjson"))) {
    auto r = json::parse(line).as_object();
    ++out.records;
    seen.insert(r["line"].to_number<std::uint64_t>());
    if (r["outcome"].as_string() == "ok") ++out.ok;
  }
  out.distinct_lines = seen.size();
  if (out.code >= 0 && out.code < 128)
    out.retries = json::parse(read_file(mock.path("s.json"))).at("retries").as_int64();
  mock.stop();
  out.order_error = check_applied_in_order(manifest, mock.journal());
  return out;
}

} // namespace

TEST_CASE("hostile network: 5,000 lines through a faulty proxy all end ok, once each, in order") {
  auto r = apply_through_proxy({.seed = 20240611}, 5000, 500);
  const auto& p = r.proxy;
  INFO(r.stderr_text);
  MESSAGE("proxy: connections " << p.connections << ", resets mid-request " << p.resets_mid_request
                                << ", mid-response " << p.resets_mid_response << ", stalls "
                                << p.stalls << " (" << p.stalled_requests_dropped
                                << " requests dropped, client gone), segments " << p.segments
                                << ", " << p.bytes << " bytes; run " << r.seconds << " s");
  CHECK(r.code == 0);
  // The faults really happened.
  CHECK(p.resets_mid_request > 5);
  CHECK(p.resets_mid_response > 5);
  CHECK(p.stalls > 0);
  CHECK(p.segments > p.bytes / 64);
  // Exactly one record per line, all ok, each job's updates applied in manifest order.
  CHECK(r.records == 5000);
  CHECK(r.distinct_lines == 5000);
  CHECK(r.ok == 5000);
  CHECK(r.retries > 0);
  CHECK(r.order_error == "");
  CHECK(r.seconds < 60);
}

// A request that stalls in the network past the attempt timeout reaches the server anyway,
// about a second after the client gave up on it (4 s stall, 3 s timeout). The client
// retries it, and the job's next update waits --settle (default: the timeout) so that the
// late copy cannot land after it.
TEST_CASE("hostile network: a stalled request delivered after its retry keeps the job's order") {
  auto r = apply_through_proxy({.seed = 20240611,
                                .reset_probability = 0,
                                .stall_probability = 0.01,
                                .drop_stalled_request_of_closed_client = false},
                               3000, 300);
  INFO(r.stderr_text);
  MESSAGE("stalls " << r.proxy.stalls << ", run " << r.seconds << " s");
  CHECK(r.code == 0);
  CHECK(r.ok == 3000);
  CHECK(r.proxy.stalls > 0);
  CHECK(r.stderr_text.find("waited for an unanswered request of their job to settle") !=
        std::string::npos);
  CHECK(r.order_error == "");
}
