// jobpatch-mock's logic without sockets: fault draws, tokens, percent-decoding, the
// store, the HTTP answer it composes, and which requests the capacity model admits.

#include "mock/job_store.hpp"
#include "mock/mock_api.hpp"
#include "mock/token_table.hpp"

#include "child_process.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace jobpatch;
using namespace jobpatch::mock;
namespace json = boost::json;

TEST_CASE("fault draws: each probability is exact while they sum to at most 1") {
  fault_rates rates;
  rates.fail_429 = 0.1;
  rates.fail_503 = 0.2;
  rates.fail_500 = 0.05;
  rates.drop = 0.15;
  rates.truncate = 0.1;
  fault_rng rng(7);
  std::map<fault, int> seen;
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) ++seen[draw_fault(rates, rng)];
  auto share = [&](fault f) { return static_cast<double>(seen[f]) / draws; };
  CHECK(share(fault::fail_429) == doctest::Approx(0.1).epsilon(0.05));
  CHECK(share(fault::fail_503) == doctest::Approx(0.2).epsilon(0.05));
  CHECK(share(fault::fail_500) == doctest::Approx(0.05).epsilon(0.05));
  CHECK(share(fault::drop) == doctest::Approx(0.15).epsilon(0.05));
  CHECK(share(fault::truncate) == doctest::Approx(0.1).epsilon(0.05));
  CHECK(share(fault::none) == doctest::Approx(0.4).epsilon(0.05));

  fault_rates none;
  for (int i = 0; i < 1000; ++i) CHECK(draw_fault(none, rng) == fault::none);
  fault_rates always;
  always.fail_500 = 1;
  for (int i = 0; i < 1000; ++i) CHECK(draw_fault(always, rng) == fault::fail_500);
  // The same seed gives the same sequence.
  fault_rng a(99), b(99);
  for (int i = 0; i < 100; ++i) CHECK(a.next() == b.next());
}

TEST_CASE("percent_decode decodes one segment and rejects malformed escapes") {
  std::string out;
  CHECK(percent_decode("a%2Fb%20c", out));
  CHECK(out == "a/b c");
  CHECK(percent_decode("%c3%BC", out));
  CHECK(out == "\xc3\xbc");
  CHECK(percent_decode("plain+id", out));
  CHECK(out == "plain+id");
  CHECK(!percent_decode("a%2", out));
  CHECK(!percent_decode("a%", out));
  CHECK(!percent_decode("%g0", out));
}

TEST_CASE("tokens: valid until their TTL, then expired, unknown and missing told apart") {
  token_table tokens(std::chrono::seconds(10));
  auto t0 = token_table::clock::now();
  std::string token = tokens.issue(t0);
  CHECK(token != tokens.issue(t0));
  CHECK(tokens.issued() == 2);
  CHECK(tokens.check(token, t0 + std::chrono::seconds(9)) == token_status::valid);
  CHECK(tokens.check("Bearer " + token, t0) == token_status::valid);
  CHECK(tokens.check(token, t0 + std::chrono::seconds(10)) == token_status::expired);
  CHECK(tokens.check("", t0) == token_status::missing);
  CHECK(tokens.check("mock.0000", t0) == token_status::unknown);
}

TEST_CASE("job_store: applies each op as documented and journals it, unknown jobs are untouched") {
  test::temp_dir dir;
  std::string journal = dir.path("j.ndjson");
  std::string out, error;
  {
    job_store store(journal);
    store.create("j1");
    CHECK(store.apply("j1", op_kind::configs, R"({"taskTimeout":"12","jobTimeout":3.0})", out,
                      error) == apply_result::applied);
    auto doc = json::parse(out);
    CHECK(doc.at("job").at("config") ==
          json::parse(R"({"taskTimeout":12,"jobTimeout":3,"isTestJob":false})"));
    out.clear();
    CHECK(store.apply("j2", op_kind::jobname, R"("x")", out, error) == apply_result::not_found);
    CHECK(out.empty());
    CHECK(store.apply("j1", op_kind::params, R"({"partitioner":{"a":[1,{"b":null}]}})", out,
                      error) == apply_result::applied);
    CHECK(
        json::parse(out).at("job").at("params") ==
        json::parse(R"({"preset":"","partitioner":{"a":[1,{"b":null}]},"assembler":{},"app":{}})"));
    CHECK(store.applied() == 2);
    out.clear();
    CHECK(store.render("j1", out));
    CHECK(!store.render("j2", out));
  }
  auto lines = test::read_lines(journal);
  REQUIRE(lines.size() == 2);
  CHECK(
      json::parse(lines[0]) ==
      json::parse(
          R"({"seq":1,"jobId":"j1","op":"configs","body":{"taskTimeout":"12","jobTimeout":3.0}})"));
  CHECK(json::parse(lines[1]).at("op") == "params");
}

TEST_CASE("compose_response: status line, length, Retry-After and Connection: close") {
  api_reply reply;
  reply.status = 503;
  reply.body = R"({"code":14})";
  reply.retry_after = 3;
  reply.close = true;
  std::string wire;
  std::size_t header = compose_response(reply, wire);
  CHECK(wire.substr(0, header) ==
        "HTTP/1.1 503 Service Unavailable\r\nServer: jobpatch-mock\r\nContent-Type: "
        "application/json\r\n"
        "Content-Length: 11\r\nRetry-After: 3\r\nConnection: close\r\n\r\n");
  CHECK(wire.substr(header) == reply.body);
}

TEST_CASE("capacity: admit() puts the job API through the model, and nothing else") {
  using namespace std::chrono_literals;
  mock_options o;
  o.capacity.limit = 1;
  o.capacity.service = 100ms;
  o.latency = 5ms;
  job_store store;
  store.create("job-1");
  token_table tokens(std::chrono::seconds(60));
  mock_stats stats;
  mock_api api(o, store, tokens, stats);
  auto t0 = std::chrono::steady_clock::now();
  api.start_capacity_clock(t0);
  api_reply reply;
  auto request = [](method verb, std::string_view target) {
    api_request r;
    r.verb = verb;
    r.target = target;
    return r;
  };
  auto patch = request(method::patch, "/v1/customer/jobs/job-1/configs?x=1");
  auto served = api.admit(patch, t0, reply);
  CHECK(!served.refused);
  CHECK(served.answer_at == t0 + 100ms);
  // While it is in service (K = 1, Q = 0): refused at once, with the latency on top.
  auto refused = api.admit(patch, t0 + 10ms, reply);
  CHECK(refused.refused);
  CHECK(reply.status == 503);
  CHECK(reply.retry_after == 1);
  CHECK(reply.delay == 5ms);
  CHECK(reply.action == reply_action::respond);
  CHECK(json::parse(reply.body).at("code") == 14);
  // A GET of a job and an unknown route under /v1/customer/jobs/ are in the model too.
  CHECK(api.admit(request(method::get, "/v1/customer/jobs/job-1"), t0 + 10ms, reply).refused);
  CHECK(api.admit(request(method::get, "/v1/customer/jobs/x/nope"), t0 + 10ms, reply).refused);
  // The token exchange, the stats and anything else are not.
  for (auto r : {request(method::post, "/v1/auth/access_token"),
                 request(method::get, "/mock/stats"), request(method::get, "/elsewhere")}) {
    auto pass = api.admit(r, t0 + 10ms, reply);
    CHECK(!pass.refused);
    CHECK(pass.answer_at == t0 + 10ms);
  }
  auto doc = json::parse(api.stats_json(t0 + 10ms));
  CHECK(doc.at("requests").at("configs").at("503") == 1);
  CHECK(doc.at("requests").at("get_job").at("503") == 1);
  CHECK(doc.at("requests").at("other").at("503") == 1);
  CHECK(doc.at("faults").at("fail503") == 0);
  CHECK(doc.at("applied") == 0);
  CHECK(doc.at("patchesPerSecondPeak") == 2); // the served PATCH and the refused one
  const auto& capacity = doc.at("capacity");
  CHECK(capacity.at("limit") == 1);
  CHECK(capacity.at("servedAtOnce") == 1);
  CHECK(capacity.at("rejected503") == 3);
  CHECK(capacity.at("inService") == 1);

  // Without --capacity every request is answered at once, and the stats say nothing of it.
  mock_options plain;
  mock_api unmodelled(plain, store, tokens, stats);
  for (int i = 0; i < 5; ++i) {
    auto pass = unmodelled.admit(patch, t0, reply);
    CHECK(!pass.refused);
    CHECK(pass.answer_at == t0);
  }
  CHECK(!json::parse(unmodelled.stats_json(t0)).as_object().contains("capacity"));
}
