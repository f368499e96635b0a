// jobpatch-mock's fault injection, journal, counters and robustness, over real TLS.

#include "mock_process.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

const std::string configs_target = "/v1/customer/jobs/job-0000001/configs";

std::uint64_t count(const json::value& stats, const char* endpoint, const char* status) {
  auto* v = stats.at("requests").at(endpoint).as_object().if_contains(status);
  return v ? v->to_number<std::uint64_t>() : 0;
}

std::uint64_t fault(const json::value& stats, const char* name) {
  return stats.at("faults").at(name).to_number<std::uint64_t>();
}

} // namespace

TEST_CASE("injected 500, 503 with Retry-After and 429 change nothing") {
  struct injected {
    const char* option;
    int status;
    int code;
    const char* counter;
  };
  for (auto [option, status, code, counter] :
       {injected{"--fail-500", 500, 13, "fail500"}, injected{"--fail-503", 503, 14, "fail503"},
        injected{"--fail-429", 429, 8, "fail429"}}) {
    CAPTURE(option);
    mock_process mock({option, "1", "--retry-after", "7"});
    std::string token = mock.token(); // the token exchange is never faulted
    json::value before = mock.job("job-0000001", token);
    auto c = mock.client();
    for (int i = 0; i < 5; ++i) {
      auto answer = c->request("PATCH", configs_target, R"({"taskTimeout":999})", token);
      CHECK(answer.status == status);
      CHECK(json::parse(answer.body).at("code").as_int64() == code);
      CHECK(answer.retry_after == (status == 503 ? "7" : ""));
    }
    CHECK(c->requests_on_connection() == 5); // the connection stays usable
    CHECK(mock.job("job-0000001", token) == before);
    CHECK(mock.journal_records().empty());
    auto stats = mock.stats();
    CHECK(fault(stats, counter) == 5);
    CHECK(count(stats, "configs", std::to_string(status).c_str()) == 5);
    CHECK(stats.at("applied").to_number<std::uint64_t>() == 0);
  }
}

TEST_CASE("drop closes without an answer, sometimes after applying, the journal says which") {
  mock_process mock({"--drop", "1", "--seed", "42"});
  std::string token = mock.token();
  const int requests = 24;
  for (int i = 1; i <= requests; ++i) {
    auto c = mock.client();
    auto answer =
        c->request("PATCH", configs_target, R"({"taskTimeout":)" + std::to_string(i) + "}", token);
    CHECK(answer.status == 0);
    CHECK(!answer.ok());
  }
  auto stats = mock.stats();
  std::uint64_t applied = fault(stats, "dropApplied"), not_applied = fault(stats, "dropNotApplied");
  CHECK(applied + not_applied == requests);
  CHECK(applied > 0); // both happen (P = 1/2 each; seeded, so deterministic)
  CHECK(not_applied > 0);
  CHECK(count(stats, "configs", "dropped") == requests);
  auto journal = mock.journal_records();
  REQUIRE(journal.size() == applied);
  CHECK(stats.at("applied").to_number<std::uint64_t>() == applied);
  // The store holds the last applied value.
  CHECK(mock.job("job-0000001", token).at("config").at("taskTimeout") ==
        journal.back().at("body").at("taskTimeout"));
}

TEST_CASE("drop is reproducible with --seed") {
  auto pattern = [](const char* seed) {
    mock_process mock({"--drop", "1", "--seed", seed});
    std::string token = mock.token();
    for (int i = 1; i <= 12; ++i)
      mock.client()->request("PATCH", configs_target,
                             R"({"taskTimeout":)" + std::to_string(i) + "}", token);
    std::string applied;
    for (auto& r : mock.journal_records()) applied += json::serialize(r.at("body")) + ";";
    return applied;
  };
  CHECK(pattern("5") == pattern("5"));
}

TEST_CASE("truncate applies, then sends the headers and part of the body") {
  mock_process mock({"--truncate", "1"});
  std::string token = mock.token();
  auto c = mock.client();
  auto answer = c->request("PATCH", configs_target, R"({"jobTimeout":4242})", token);
  CHECK(answer.status == 0);
  CHECK(!answer.ok());
  CHECK(!answer.body.empty());      // part of the body arrived
  CHECK(answer.body.size() < 1000); // but not all of it
  CHECK(!c->is_open());
  CHECK(mock.job("job-0000001", token).at("config").at("jobTimeout") == 4242);
  auto journal = mock.journal_records();
  REQUIRE(journal.size() == 1);
  CHECK(journal[0].at("body") == json::parse(R"({"jobTimeout":4242})"));
  CHECK(fault(mock.stats(), "truncate") == 1);
}

TEST_CASE("--latency-ms delays every API answer, without a fault") {
  // Bounds from below hold on any machine; the one from above compares serving 8 delayed
  // answers at once (~1 latency) with serving them in turn (8 latencies), with room for
  // a slow machine in between.
  const auto latency = std::chrono::milliseconds(400);
  mock_process mock({"--latency-ms", std::to_string(latency.count())});
  auto start = std::chrono::steady_clock::now();
  std::string token = mock.token();
  auto c = mock.client();
  auto answer = c->request("PATCH", configs_target, R"({"isTestJob":true})", token);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(answer.status == 200);
  CHECK(took >= 2 * latency); // token + PATCH
  // A connection waiting for its delayed answer does not hold up another one.
  std::atomic<int> done{0};
  std::vector<std::thread> clients;
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      if (mock.client()->request("PATCH", configs_target, R"({"isTestJob":false})", token).status ==
          200)
        ++done;
    });
  for (auto& t : clients) t.join();
  CHECK(done == 8);
  took = std::chrono::steady_clock::now() - start;
  CHECK(took >= latency);
  CHECK(took < 4 * latency);
}

TEST_CASE("the journal records every applied PATCH in order, bodies as JSON") {
  mock_process mock({"--job-id", "x\"y"});
  std::string token = mock.token();
  auto a = mock.client(), b = mock.client();
  std::vector<std::pair<std::string, std::string>> sent; // target, body
  for (int i = 0; i < 10; ++i) {
    auto& c = i % 2 ? a : b;
    std::string target = i % 3 == 0 ? "/v1/customer/jobs/job-0000002/params"
                                    : "/v1/customer/jobs/job-0000001/configs";
    std::string body = i % 3 == 0 ? R"({"app":{"i":)" + std::to_string(i) + R"(,"s":"a\nb"}})"
                                  : "{\n  \"taskTimeout\": \"" + std::to_string(i) + "\"\n}";
    REQUIRE(c->request("PATCH", target, body, token).status == 200);
    sent.emplace_back(target, body);
  }
  REQUIRE(a->request("PATCH", "/v1/customer/jobs/x%22y/jobname", R"("q")", token).status == 200);
  auto journal = mock.journal_records();
  REQUIRE(journal.size() == 11);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CAPTURE(i);
    auto& r = journal[i].as_object();
    CHECK(r.size() == 4);
    CHECK(r.at("seq").as_int64() == static_cast<std::int64_t>(i + 1));
    bool params = sent[i].first.find("params") != std::string::npos;
    CHECK(r.at("jobId") == (params ? "job-0000002" : "job-0000001"));
    CHECK(r.at("op") == (params ? "params" : "configs"));
    CHECK(r.at("body") == json::parse(sent[i].second)); // a JSON value, not a string
  }
  CHECK(journal[10].at("jobId") == "x\"y");
  CHECK(journal[10].at("body") == "q");
  // One line per record, even for a pretty-printed body.
  CHECK(read_lines(mock.journal()).size() == 11);
}

TEST_CASE("/mock/stats counts requests by endpoint and status, applied, connections, tokens") {
  mock_process mock;
  std::string token = mock.token();
  auto c = mock.client();
  c->request("PATCH", configs_target, R"({"taskTimeout":1})", token);
  c->request("PATCH", configs_target, R"({"taskTimeout":2})", token);
  c->request("PATCH", "/v1/customer/jobs/job-0000001/jobname", "1", token);
  c->request("PATCH", "/v1/customer/jobs/nope/params", R"({"preset":"x"})", token);
  c->request("GET", "/v1/customer/jobs/job-0000001", {}, token);
  c->request("POST", "/v1/auth/access_token", R"({"apiKey":"wrong"})");
  auto stats = mock.stats();
  CHECK(count(stats, "configs", "200") == 2);
  CHECK(count(stats, "jobname", "400") == 1);
  CHECK(count(stats, "params", "404") == 1);
  CHECK(count(stats, "get_job", "200") == 1);
  CHECK(count(stats, "access_token", "200") == 1);
  CHECK(count(stats, "access_token", "401") == 1);
  CHECK(stats.at("requests").at("total").to_number<std::uint64_t>() == 7);
  CHECK(stats.at("applied").to_number<std::uint64_t>() == 2);
  CHECK(stats.at("tokensIssued").to_number<std::uint64_t>() == 1);
  CHECK(stats.at("connections").at("accepted").to_number<std::uint64_t>() == 3); // token, c, stats
  CHECK(stats.at("connections").at("open").to_number<std::uint64_t>() >= 2);     // c and stats
}

TEST_CASE("a malformed request, an oversized body or header affect only their connection") {
  mock_process mock;
  std::string token = mock.token();
  auto bystander = mock.client();
  REQUIRE(bystander->request("PATCH", configs_target, R"({"taskTimeout":1})", token).status == 200);

  SUBCASE("garbage instead of HTTP: 400, then closed") {
    auto bad = mock.client();
    REQUIRE(bad->send_raw("HELLO THERE\r\n\r\n"));
    auto answer = bad->read_answer();
    CHECK(answer.status == 400);
    CHECK(bad->peer_closed(std::chrono::seconds(2)));
  }
  SUBCASE("a body over 1 MiB: 413, then closed") {
    auto big = mock.client();
    REQUIRE(big->send_raw("PATCH " + configs_target +
                          " HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + token +
                          "\r\nContent-Length: 2000000\r\n\r\n"));
    auto answer = big->read_answer();
    CHECK(answer.status == 413);
    CHECK(big->peer_closed(std::chrono::seconds(2)));
  }
  SUBCASE("a header over 16 KiB: 431, then closed") {
    auto big = mock.client();
    REQUIRE(big->send_raw("GET /mock/stats HTTP/1.1\r\nHost: localhost\r\nX-Big: " +
                          std::string(20000, 'a') + "\r\n\r\n"));
    CHECK(big->read_answer().status == 431);
  }
  SUBCASE("a client that disappears mid-request") {
    for (int i = 0; i < 20; ++i) {
      auto gone = mock.client();
      REQUIRE(gone->send_raw("PATCH " + configs_target +
                             " HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + token +
                             "\r\nContent-Length: 100\r\n\r\n{\"taskTi"));
    } // each closes here, with its body incomplete
    // Judged once the mock has seen every one of them close (open: the bystander and the
    // stats request itself), not after a pause that a slow machine could outlast.
    auto until = std::chrono::steady_clock::now() + slowed(std::chrono::seconds(10));
    json::value stats = mock.stats();
    while (stats.at("connections").at("open").to_number<std::uint64_t>() > 2 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      stats = mock.stats();
    }
    CHECK(stats.at("connections").at("open").to_number<std::uint64_t>() <= 2);
    CHECK(stats.at("applied").to_number<std::uint64_t>() == 1);
  }
  // The other connection is still served, on the same socket.
  auto answer = bystander->request("PATCH", configs_target, R"({"taskTimeout":2})", token);
  CHECK(answer.status == 200);
  CHECK(bystander->requests_on_connection() == 2);
  CHECK(mock.process().running());
}

TEST_CASE("a slow client is cut off after --idle-timeout, others are served meanwhile") {
  mock_process mock({"--idle-timeout", "1"});
  std::string token = mock.token();
  // Taken before the slow connection exists: the mock cannot have cut it off before
  // a whole idle timeout after this, however slow the machine.
  auto before_connect = std::chrono::steady_clock::now();
  auto slow = mock.client();
  REQUIRE(slow->send_raw("PATCH " + configs_target + " HTTP/1.1\r\nHost: loc"));
  CHECK(mock.client()->request("PATCH", configs_target, R"({"taskTimeout":3})", token).status ==
        200);
  CHECK(slow->peer_closed(slowed(std::chrono::seconds(10))));
  CHECK(std::chrono::steady_clock::now() - before_connect >= std::chrono::seconds(1));
  // Still serving: a fresh connection (one kept from before would have sat idle as long as
  // the slow one, and been cut off too).
  CHECK(mock.client()->request("GET", "/v1/customer/jobs/job-0000001", {}, token).status == 200);
}

TEST_CASE("several threads and concurrent clients: every update journaled once, in seq order") {
  mock_process mock({"--threads", "2"}, 8);
  std::string token = mock.token();
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      auto c = mock.client();
      std::string target = "/v1/customer/jobs/job-000000" + std::to_string(t + 1) + "/configs";
      for (int i = 1; i <= 50; ++i)
        if (c->request("PATCH", target, R"({"taskTimeout":)" + std::to_string(i) + "}", token)
                .status == 200)
          ++ok;
    });
  for (auto& t : clients) t.join();
  CHECK(ok == 400);
  auto journal = mock.journal_records();
  REQUIRE(journal.size() == 400);
  std::map<std::string, std::int64_t> last;
  for (std::size_t i = 0; i < journal.size(); ++i) {
    CHECK(journal[i].at("seq").as_int64() == static_cast<std::int64_t>(i + 1));
    std::string job(journal[i].at("jobId").as_string());
    std::int64_t value = journal[i].at("body").at("taskTimeout").as_int64();
    CHECK(value == last[job] + 1); // per job, in the order each client sent them
    last[job] = value;
  }
  CHECK(mock.job("job-0000008", token).at("config").at("taskTimeout") == 50);
}

TEST_CASE("SIGTERM and SIGINT stop the mock cleanly with the journal complete, so does kill -9") {
  for (int signal_number : {SIGTERM, SIGINT, SIGKILL}) {
    CAPTURE(signal_number);
    mock_process mock;
    std::string token = mock.token();
    auto c = mock.client();
    for (int i = 1; i <= 30; ++i)
      REQUIRE(
          c->request("PATCH", configs_target, R"({"taskTimeout":)" + std::to_string(i) + "}", token)
              .status == 200);
    // A connection still open does not keep it from stopping.
    int code = mock.stop(signal_number);
    CHECK(code == (signal_number == SIGKILL ? 128 + SIGKILL : 0));
    auto journal = mock.journal_records();
    REQUIRE(journal.size() == 30);
    CHECK(journal.back().at("seq") == 30);
  }
}
