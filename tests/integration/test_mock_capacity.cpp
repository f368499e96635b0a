// jobpatch-mock's capacity model (--capacity, --service-ms, --queue, --capacity-after)
// against the real process over TLS. The verdicts depend on no timing but one bound: the
// requests of a burst, sent on connections opened beforehand and released together, all
// arrive within one service time (a second, more under JOBPATCH_TEST_SLOWDOWN).

#include "mock_process.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cstdio>
#include <latch>
#include <set>
#include <thread>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

std::string job_id(std::size_t i) {
  char id[16];
  std::snprintf(id, sizeof id, "job-%07zu", i + 1);
  return id;
}

std::uint64_t number(const json::value& v) { return v.to_number<std::uint64_t>(); }

// One request per connection, all opened first (TLS handshakes done), then sent together;
// `send(i, client)` makes request i. Returns the answers in order.
template <class Send>
std::vector<http_answer> burst(const mock_process& mock, std::size_t n,
                               std::chrono::milliseconds timeout, Send send) {
  std::vector<std::unique_ptr<tls_test_client>> clients;
  for (std::size_t i = 0; i < n; ++i) {
    clients.push_back(
        std::make_unique<tls_test_client>(mock.port(), mock.cert(), "localhost", timeout));
    clients.back()->connect();
  }
  std::vector<http_answer> answers(n);
  std::latch go(static_cast<std::ptrdiff_t>(n));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      answers[i] = send(i, *clients[i]);
    });
  for (auto& t : threads) t.join();
  return answers;
}

} // namespace

TEST_CASE("--capacity 2 --queue 1: six at once, two served, one queued, three refused") {
  const auto service = slowed(std::chrono::milliseconds(1000));
  const auto timeout = 3 * service + slowed(std::chrono::seconds(5));
  for (const char* threads : {"1", "2"}) {
    CAPTURE(threads);
    mock_process mock({"--capacity", "2", "--service-ms", std::to_string(service.count()),
                       "--queue", "1", "--threads", threads},
                      6);
    std::string token = mock.token();
    auto answers = burst(mock, 6, timeout, [&](std::size_t i, tls_test_client& c) {
      return c.request("PATCH", "/v1/customer/jobs/" + job_id(i) + "/configs",
                       R"({"taskTimeout":)" + std::to_string(1000 + i) + "}", token);
    });
    std::set<std::string> served, refused;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      CAPTURE(i);
      const auto& a = answers[i];
      REQUIRE(a.ok());
      if (a.status == 200) {
        served.insert(job_id(i));
        CHECK(json::parse(a.body).at("job").at("config").at("taskTimeout") ==
              static_cast<std::int64_t>(1000 + i));
        CHECK(a.retry_after.empty());
      } else {
        CHECK(a.status == 503);
        refused.insert(job_id(i));
        CHECK(a.retry_after == "1");
        CHECK(json::parse(a.body).at("code") == 14);
      }
    }
    CHECK(served.size() == 3);
    CHECK(refused.size() == 3);
    // The served updates were applied, the refused ones not.
    std::set<std::string> journaled;
    for (const auto& r : mock.journal_records())
      journaled.insert(std::string(r.at("jobId").as_string()));
    CHECK(journaled == served);
    auto stats = mock.stats();
    CHECK(number(stats.at("applied")) == 3);
    CHECK(number(stats.at("requests").at("configs").at("200")) == 3);
    CHECK(number(stats.at("requests").at("configs").at("503")) == 3);
    CHECK(number(stats.at("faults").at("fail503")) == 0); // not an injected fault
    const auto& capacity = stats.at("capacity");
    CHECK(number(capacity.at("limit")) == 2);
    CHECK(number(capacity.at("serviceMs")) == static_cast<std::uint64_t>(service.count()));
    CHECK(number(capacity.at("queueLimit")) == 1);
    // The token exchange and /mock/stats are not in the model: six requests in all.
    CHECK(number(capacity.at("servedAtOnce")) == 2);
    CHECK(number(capacity.at("servedAfterQueue")) == 1);
    CHECK(number(capacity.at("rejected503")) == 3);
    CHECK(number(capacity.at("peakInService")) == 2);
    CHECK(number(capacity.at("peakQueued")) == 1);
    CHECK(number(capacity.at("inService")) == 0);
    CHECK(number(capacity.at("queued")) == 0);
    // The GETs of jobs are in the model too (two at once: both served): a refused job is
    // unchanged, a served one changed.
    std::string refused_job = *refused.begin(), served_job = *served.begin();
    auto reads = burst(mock, 2, timeout, [&](std::size_t i, tls_test_client& c) {
      return c.request("GET", "/v1/customer/jobs/" + (i ? served_job : refused_job), {}, token);
    });
    REQUIRE(reads[0].status == 200);
    REQUIRE(reads[1].status == 200);
    CHECK(json::parse(reads[0].body).at("job").at("config").at("taskTimeout") == 3600);
    CHECK(json::parse(reads[1].body).at("job").at("config").at("taskTimeout") != 3600);
    CHECK(number(mock.stats().at("capacity").at("servedAtOnce")) == 4);
  }
}

TEST_CASE("--capacity-after raises K during the run, as /mock/stats shows and a burst proves") {
  const auto service = slowed(std::chrono::milliseconds(1000));
  const auto timeout = 2 * service + slowed(std::chrono::seconds(5));
  mock_process mock({"--capacity", "1", "--service-ms", std::to_string(service.count()),
                     "--capacity-after", "0.5:3"},
                    4);
  std::string token = mock.token();
  // Waits for the change (an event the stats report), not for a time.
  auto until = std::chrono::steady_clock::now() + slowed(std::chrono::seconds(10));
  json::value capacity = mock.stats().at("capacity");
  while (number(capacity.at("changesMade")) == 0 && std::chrono::steady_clock::now() < until) {
    CHECK(number(capacity.at("limit")) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    capacity = mock.stats().at("capacity");
  }
  REQUIRE(number(capacity.at("changesMade")) == 1);
  CHECK(number(capacity.at("limit")) == 3);
  // K = 3, no queue: of four at once, three are served and one refused (with K = 1 it
  // would be one and three).
  auto answers = burst(mock, 4, timeout, [&](std::size_t i, tls_test_client& c) {
    return c.request("PATCH", "/v1/customer/jobs/" + job_id(i) + "/configs",
                     R"({"jobTimeout":)" + std::to_string(7000 + i) + "}", token);
  });
  std::size_t ok = 0, refused = 0;
  for (const auto& a : answers) {
    ok += a.status == 200;
    refused += a.status == 503 && a.retry_after == "1";
  }
  CHECK(ok == 3);
  CHECK(refused == 1);
  capacity = mock.stats().at("capacity");
  CHECK(number(capacity.at("peakInService")) == 3);
  CHECK(number(capacity.at("rejected503")) == 1);
  CHECK(mock.journal_records().size() == 3);
}
