// --undo-out when a 200 cannot be used (issue 23): the server applied the PATCH, then
// answered 200 with an empty body, a body that is not JSON, or another job's document.
// The line fails, but its PATCH may have been applied: the undo file must hold its
// before-image (written before the PATCH left), the record must say "in doubt", and a
// --resume that reads the job again (it shows the new value now) must not put the new
// value in the undo file as the one to restore.

#include "apply_runner.hpp"
#include "hostile_server.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string api_key = "hostile-key-5f1e9c2d";

// `jobpatch apply INPUT` against `server` (TLS, its certificate trusted) plus `args`; its
// stderr in dir.path(`name` + ".err"). Returns the exit code.
int apply_to(const hostile_server& server, const temp_dir& dir, const std::string& name,
             const std::string& input, std::vector<std::string> args) {
  write_file(dir.path("cert.pem"), server.certificate_pem());
  auto run = run_measured(jobpatch_argv(server.port(), dir.path("cert.pem"), "apply", input, args),
                          {{"BYTENITE_API_KEY", api_key}}, dir.path(name + ".out"),
                          dir.path(name + ".err"), 60s);
  return run.code;
}

std::map<std::uint64_t, json::object> records_by_line(const std::string& path) {
  std::map<std::uint64_t, json::object> out;
  for (const auto& text : read_lines(path)) {
    auto record = json::parse(text).as_object();
    out[record.at("line").to_number<std::uint64_t>()] = record;
  }
  return out;
}

// The undo file's lines for `job`, in order: each line's body (a jobname: the name).
std::vector<std::string> undo_names(const std::string& undo, const std::string& job) {
  std::vector<std::string> out;
  for (const auto& text : read_lines(undo)) {
    auto line = json::parse(text).as_object();
    if (line.at("jobId") == job.c_str()) out.push_back(json::serialize(line.at("body")));
  }
  return out;
}

std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The last value the server applied to `job` ("jobId body" entries), or "".
std::string last_applied(const hostile_server& server, const std::string& job) {
  std::string out;
  for (const auto& entry : server.applied())
    if (entry.starts_with(job + " ")) out = entry.substr(job.size() + 1);
  return out;
}

const char* name_of(hostile_mode mode) {
  switch (mode) {
  case hostile_mode::applied_empty_body:
    return "200 with an empty body";
  case hostile_mode::applied_text_body:
    return "200 with a body that is not JSON";
  case hostile_mode::applied_other_job:
    return "200 with another job's document";
  default:
    return "?";
  }
}

} // namespace

TEST_CASE("undo: a 200 that cannot be used keeps the line's before-image, in doubt, through "
          "--resume") {
  for (hostile_mode mode : {hostile_mode::applied_empty_body, hostile_mode::applied_text_body,
                            hostile_mode::applied_other_job}) {
    // One attempt, and three: a retry of an unusable answer applies the PATCH again.
    for (const char* attempts : {"1", "3"}) {
      const std::string answer = name_of(mode), max_attempts = attempts;
      CAPTURE(answer);
      CAPTURE(max_attempts);
      hostile_server server({.mode = mode});
      temp_dir dir;
      const std::string manifest = dir.path("m.ndjson"), undo = dir.path("u.ndjson"),
                        results = dir.path("r.ndjson");
      // The server's jobs are named "before <id>" until a PATCH renames them.
      write_file(manifest, R"({"jobId":"job-1","op":"jobname","body":"after-1"})"
                           "\n"
                           R"({"jobId":"job-2","op":"jobname","body":"after-2"})"
                           "\n");
      const std::vector<std::string> common = {"--undo-out",    undo, "--results", results,
                                               "--connections", "2",  "--settle",  "0.1"};
      auto with = [&](std::vector<std::string> extra) {
        extra.insert(extra.begin(), common.begin(), common.end());
        return extra;
      };

      CHECK(apply_to(server, dir, "first", manifest,
                     with({"--max-attempts", attempts, "--summary-json", dir.path("s.json")})) ==
            1);
      INFO("first run: " << read_file(dir.path("first.err")));
      INFO("undo file:\n" << read_file(undo));
      // The server applied both updates, whatever it answered.
      REQUIRE(last_applied(server, "job-1") == R"("after-1")");
      REQUIRE(last_applied(server, "job-2") == R"("after-2")");

      // Each line failed in doubt...
      auto records = records_by_line(results);
      REQUIRE(records.size() == 2);
      for (auto& [line, record] : records) {
        CAPTURE(json::serialize(record));
        CHECK(record.at("outcome") == "failed");
        const auto* flag = record.if_contains("inDoubt");
        CHECK((flag && flag->is_bool() && flag->get_bool()));
        const auto* error = record.if_contains("error");
        CHECK((error && error->is_string() &&
               std::string_view(error->get_string()).find("may have been applied") !=
                   std::string_view::npos));
      }
      auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
      const auto* counted = summary.if_contains("inDoubt");
      CHECK_MESSAGE((counted && counted->is_number() && counted->to_number<std::uint64_t>() == 2),
                    "the summary's \"inDoubt\" counts the 2 in-doubt lines");
      // ... and the undo file holds each line's before-image.
      CHECK(joined(undo_names(undo, "job-1")) == R"("before job-1")");
      CHECK(joined(undo_names(undo, "job-2")) == R"("before job-2")");

      // The server answers properly now. The resumed run sends the failed lines again,
      // reading each job first: it shows "after-N", which is no value to restore.
      server.set_mode(hostile_mode::stateful_ok);
      CHECK(apply_to(server, dir, "resume", manifest, with({"--resume"})) == 0);
      INFO("resumed run: " << read_file(dir.path("resume.err")));
      for (const std::string job : {"job-1", "job-2"}) {
        CAPTURE(job);
        auto names = undo_names(undo, job);
        REQUIRE(!names.empty());
        CHECK(names.front() == "\"before " + job + "\""); // the first line for the field
        for (const auto& name : names) CHECK(name == "\"before " + job + "\"");
      }

      // The undo file applied: both jobs are back to their names from before.
      CHECK(apply_to(server, dir, "undo", undo, {"--results", dir.path("undo-r.ndjson")}) == 0);
      INFO("undo run: " << read_file(dir.path("undo.err")));
      CHECK(last_applied(server, "job-1") == R"("before job-1")");
      CHECK(last_applied(server, "job-2") == R"("before job-2")");
    }
  }
}
