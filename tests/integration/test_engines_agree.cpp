// apply and bench perform attempts through one core and judge answers with one function
// (issue 13): the same answer leads to the same decision in both. Before, a 200 naming
// another job was a final failure in apply but retried in bench, and a TLS verification
// failure aborted bench at once but left apply failing line after line.

#include "apply_runner.hpp"
#include "hostile_server.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string api_key = "agree-key-6d41a0";

struct engine_run {
  measured_run run;
  std::string err;
  json::object summary;
  std::vector<json::object> records; // apply only
};

std::string manifest_of(unsigned lines) {
  std::string out;
  for (unsigned i = 1; i <= lines; ++i)
    out += R"({"jobId":"job-)" + std::to_string(i) + R"(","op":"jobname","body":"n)" +
           std::to_string(i) + "\"}\n";
  return out;
}

// `jobpatch apply` or `jobpatch bench` (rate 20/s for 1 s) of `lines` lines, one job
// each, against `server` (TLS, its first certificate trusted).
engine_run run_engine(const std::string& command, const hostile_server& server, const temp_dir& dir,
                      unsigned lines) {
  write_file(dir.path("m.ndjson"), manifest_of(lines));
  write_file(dir.path("cert.pem"), server.certificate_pem());
  auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), command, dir.path("m.ndjson"),
                            {"--connections", "2", "--summary-json", dir.path("s.json")});
  if (command == "apply") {
    argv.insert(argv.end(), {"--results", dir.path("r.ndjson")});
  } else {
    argv.insert(argv.end(), {"--rate", "20", "--duration", "1"});
  }
  engine_run out;
  out.run = run_measured(argv, {{"BYTENITE_API_KEY", api_key}}, dir.path(command + ".out"),
                         dir.path(command + ".err"), 60s);
  out.err = read_file(dir.path(command + ".err"));
  if (auto text = read_file(dir.path("s.json")); !text.empty())
    out.summary = json::parse(text).as_object();
  if (command == "apply")
    for (const auto& line : read_lines(dir.path("r.ndjson")))
      out.records.push_back(json::parse(line).as_object());
  return out;
}

} // namespace

TEST_CASE("engines agree: a 200 naming another job is a final failure, sent once, in both") {
  {
    hostile_server server({.mode = hostile_mode::wrong_job});
    temp_dir dir;
    auto r = run_engine("apply", server, dir, 4);
    INFO(r.err);
    CHECK(r.run.code == 1);
    REQUIRE(r.records.size() == 4);
    for (auto& record : r.records) {
      CHECK(record["outcome"].as_string() == "failed");
      CHECK(record["attempts"].as_int64() == 1);
      CHECK(record["status"].as_int64() == 200);
      CHECK(record["error"].as_string().find("other-job") != json::string::npos);
    }
    CHECK(r.summary["byError"].at("answer names another job").as_int64() == 4);
    CHECK(server.applied().size() == 4); // each sent once, never again
  }
  {
    hostile_server server({.mode = hostile_mode::wrong_job});
    temp_dir dir;
    auto r = run_engine("bench", server, dir, 4);
    INFO(r.err);
    CHECK(r.run.code == 1);
    CHECK(r.summary["requests"].as_int64() == 20);
    CHECK(r.summary["ok"].as_int64() == 0);
    CHECK(r.summary["failed"].as_int64() == 20);
    CHECK(r.summary["retries"].as_int64() == 0); // bench retried them (5 attempts each)
    CHECK(server.applied().size() == 20);
  }
}

TEST_CASE("engines agree: a certificate that stops verifying mid-run aborts both at once") {
  // The token exchange verifies; every PATCH connection after it meets a certificate the
  // client does not trust.
  for (std::string command : {"apply", "bench"}) {
    CAPTURE(command);
    hostile_server server({.mode = hostile_mode::ok, .later_certificate_name = "localhost"});
    temp_dir dir;
    auto r = run_engine(command, server, dir, 40);
    INFO(r.err);
    CHECK(r.run.code == 3);
    CHECK(r.err.find("certificate") != std::string::npos);
    CHECK(server.token_requests() == 1);
    CHECK(server.applied().empty());
    if (command == "apply") {
      // At most one failed attempt per connection; the rest were never sent.
      CHECK(r.records.size() <= 2);
      CHECK(r.err.find("not sent") != std::string::npos);
    }
  }
}

TEST_CASE("read first: a read naming another job, and documents that lack the fields") {
  auto run_read_first = [](const hostile_server& server, const temp_dir& dir,
                           std::vector<std::string> args) {
    write_file(dir.path("m.ndjson"), manifest_of(3));
    write_file(dir.path("cert.pem"), server.certificate_pem());
    std::vector<std::string> rest(args.begin() + 1, args.end());
    rest.insert(rest.begin(), {"--connections", "2"});
    auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), args[0], dir.path("m.ndjson"),
                              std::move(rest));
    return run_measured(argv, {{"BYTENITE_API_KEY", api_key}}, dir.path("out"), dir.path("err"),
                        60s);
  };
  {
    // A plan never takes another job's document for this job's: each line fails, read once.
    hostile_server server({.mode = hostile_mode::wrong_job});
    temp_dir dir;
    CHECK(run_read_first(server, dir, {"plan"}).code == 1);
    std::string out = read_file(dir.path("out")), err = read_file(dir.path("err"));
    INFO(err);
    CHECK(out.find("line 2 job-2 could not be read: the answer is for job \"other-job\"") !=
          std::string::npos);
    CHECK(err.find("3 lines: 0 change something (0 fields), 0 unchanged, 0 jobs not found, 3 "
                   "failed reads") != std::string::npos);
    CHECK(server.applied().size() == 3); // three GETs, no PATCH
  }
  {
    // A server that echoes the request (the access token with it) into the job's name:
    // the plan shows the name, never the token, on the terminal and in its file.
    const std::string token = "tok-echoed-5b7c";
    hostile_server server({.mode = hostile_mode::echo_name,
                           .token_body = R"({"token":")" + token + R"(","expiresIn":"3600"})"});
    temp_dir dir;
    CHECK(run_read_first(server, dir, {"plan", "--output", dir.path("plan.ndjson")}).code == 0);
    std::string plan = read_file(dir.path("plan.ndjson"));
    INFO(read_file(dir.path("err")));
    INFO(plan);
    CHECK(plan.find("[redacted]") != std::string::npos); // the name was shown, scrubbed
    CHECK(plan.find(token) == std::string::npos);
    CHECK(read_file(dir.path("err")).find(token) == std::string::npos);
    CHECK(read_file(dir.path("out")).find(token) == std::string::npos);
  }
  {
    // Documents without a name: every line changes something and is sent; nothing can be
    // restored, which the run says.
    hostile_server server({.mode = hostile_mode::ok});
    temp_dir dir;
    CHECK(run_read_first(server, dir,
                         {"apply", "--skip-unchanged", "--undo-out", dir.path("undo.ndjson"),
                          "--results", dir.path("r.ndjson")})
              .code == 0);
    std::string err = read_file(dir.path("err"));
    INFO(err);
    CHECK(read_lines(dir.path("undo.ndjson")).empty());
    CHECK(err.find("--undo-out: line 1: jobname is absent from the job's document") !=
          std::string::npos);
    for (const auto& line : read_lines(dir.path("r.ndjson")))
      CHECK(json::parse(line).at("outcome") == "ok");
    CHECK(server.applied().size() == 6); // a GET and a PATCH per line
  }
}
