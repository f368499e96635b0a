// Secrets and injection: a full apply (with failures, faults and a token refresh) never
// writes the API key or any access token anywhere; a world-readable key file is warned
// about; job ids made of path, query, fragment, percent, space and non-ASCII characters
// reach the server as exactly that id; ids with CR/LF are refused before anything is sent.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include <sys/stat.h>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

std::string manifest_line(const std::string& job_id, const std::string& op,
                          const std::string& body) {
  return "{\"jobId\":" + json::serialize(json::string(job_id)) + ",\"op\":\"" + op +
         "\",\"body\":" + body + "}\n";
}

} // namespace

TEST_CASE("secrets: neither the API key nor any access token appears in any output") {
  const std::string& key = mock_test_key; // "mock-test-key-8f2a"
  mock_process mock({"--token-ttl", "1", "--fail-500", "0.05", "--drop", "0.02", "--seed", "5"},
                    300);
  auto manifest = make_manifest(mock, "m.ndjson", 1500, 300, 9);
  {
    // Lines that fail: unknown jobs (404) and a schema the server refuses (400).
    std::string extra = manifest_line("job-9999999", "jobname", "\"x\"") +
                        manifest_line("job-0000001", "datasource",
                                      R"({"dataSource":{"dataSourceDescriptor":"ftp"}})");
    write_file(manifest, read_file(manifest) + extra);
  }
  std::vector<std::string> outputs = {mock.path("apply.out"), mock.path("apply.err"),
                                      mock.path("r.ndjson"),  mock.path("failed.ndjson"),
                                      mock.path("s.json"),    mock.path("m.prom")};
  // --rate keeps the run past several token lifetimes: expiry, 401s and refreshes happen.
  int code = run_apply(mock, manifest,
                       {"--rate", "500", "--max-attempts", "10", "--results", outputs[2],
                        "--failed-out", outputs[3], "--summary-json", outputs[4], "--metrics-file",
                        outputs[5], "--progress", "always"},
                       key);
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 1);
  auto summary = json::parse(read_file(outputs[4])).as_object();
  CHECK(summary["tokenRefreshes"].as_int64() >= 2);
  CHECK(summary["failed"].as_int64() >= 2);
  auto stats = mock.stats();
  INFO(json::serialize(stats));

  // bench too: its summary, JSON and the report meant to be shared.
  {
    std::vector<std::string> bench_outputs = {mock.path("bench.out"), mock.path("bench.err"),
                                              mock.path("b.json"), mock.path("report.html")};
    child_process bench({JOBPATCH_BIN, "bench", manifest, "--base-url",
                         "https://localhost:" + std::to_string(mock.port()), "--cacert",
                         mock.cert(), "--rate", "600", "--duration", "3", "--summary-json",
                         bench_outputs[2], "--report", bench_outputs[3]},
                        {{"BYTENITE_API_KEY", key}}, bench_outputs[0], bench_outputs[1]);
    int bench_code = bench.wait(std::chrono::seconds(60));
    INFO(read_file(bench_outputs[1]));
    CHECK(bench_code == 1); // 1,800 requests reach the two failing last lines
    outputs.insert(outputs.end(), bench_outputs.begin(), bench_outputs.end());
  }

  // The mock issues tokens "mock." + 32 hex digits; none may be written anywhere.
  const std::regex token_pattern("mock\\.[0-9a-f]{32}");
  for (const auto& path : outputs) {
    std::string text = read_file(path);
    INFO(path);
    if (path.find(".out") == std::string::npos) CHECK(!text.empty());
    CHECK(text.find(key) == std::string::npos);
    CHECK(text.find("mock-test-key") == std::string::npos);
    CHECK_FALSE(std::regex_search(text, token_pattern));
  }
}

TEST_CASE("secrets: --api-key-file readable by others is warned about, 0600 is not") {
  mock_process mock({}, 10);
  std::string manifest = mock.path("m.ndjson");
  write_file(manifest, manifest_line("job-0000001", "jobname", "\"a\""));
  std::string key_file = mock.path("key");
  write_file(key_file, mock_test_key + "\n");
  for (mode_t mode : {mode_t(0644), mode_t(0600)}) {
    REQUIRE(::chmod(key_file.c_str(), mode) == 0);
    child_process run(jobpatch_argv(mock, "apply", manifest, {"--api-key-file", key_file}),
                      {{"BYTENITE_API_KEY", ""}}, mock.path("out"), mock.path("err"));
    int code = run.wait(std::chrono::seconds(30));
    std::string err = read_file(mock.path("err"));
    INFO("mode " << std::oct << mode << ": " << err);
    CHECK(code == 0);
    bool warned = err.find("readable by other users") != std::string::npos;
    CHECK(warned == (mode == 0644));
    CHECK(err.find(mock_test_key) == std::string::npos);
  }
}

TEST_CASE("injection: hostile job ids reach the server as exactly that id") {
  const std::vector<std::string> ids = {"../",
                                        "../../v1/auth/access_token",
                                        "..%2F..%2F",
                                        "?",
                                        "a?b=c&d=e",
                                        "#",
                                        "#frag",
                                        "%2F",
                                        "%252F",
                                        "%",
                                        "a b",
                                        " ",
                                        "a/b/c",
                                        "+plus+",
                                        "semi;colon",
                                        "back\\slash",
                                        "\"quoted\"",
                                        "caf\u00e9-\u65e5\u672c-\U0001F600",
                                        "job-0000001/../job-0000002"};
  std::vector<std::string> args;
  for (const auto& id : ids) {
    args.push_back("--job-id");
    args.push_back(id);
  }
  mock_process mock(args, 2);
  std::string manifest;
  for (std::size_t i = 0; i < ids.size(); ++i)
    manifest += manifest_line(ids[i], "jobname", "\"name-" + std::to_string(i) + "\"");
  write_file(mock.path("m.ndjson"), manifest);
  int code = run_apply(mock, mock.path("m.ndjson"), {"--results", mock.path("r.ndjson")});
  INFO(read_file(mock.path("apply.err")));
  CHECK(code == 0);
  std::size_t ok = 0;
  for (const auto& line : read_lines(mock.path("r.ndjson"))) {
    auto r = json::parse(line).as_object();
    INFO(line);
    CHECK(r["outcome"].as_string() == "ok");
    CHECK(r["verified"].as_bool());
    ok += r["outcome"].as_string() == "ok";
  }
  CHECK(ok == ids.size());
  mock.stop();
  // One journal record per id, carrying exactly that id and its own update.
  auto records = mock.journal_records();
  REQUIRE(records.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto& r = records[i].as_object();
    std::string id(r["jobId"].as_string());
    auto at = std::find(ids.begin(), ids.end(), id);
    INFO("journal jobId " << json::serialize(r["jobId"]));
    REQUIRE(at != ids.end());
    std::size_t k = static_cast<std::size_t>(at - ids.begin());
    CHECK(json::serialize(r["body"]).find("name-" + std::to_string(k)) != std::string::npos);
  }
  // The pre-created job-0000001 and job-0000002 were not touched by the ids naming them.
  CHECK(std::none_of(records.begin(), records.end(), [](const json::value& r) {
    auto id = r.at("jobId").as_string();
    return id == "job-0000001" || id == "job-0000002";
  }));
}

TEST_CASE("injection: job ids with CR/LF or other controls are refused before anything is sent") {
  mock_process mock({"--job-id", "a\r\nb"}, 2);
  std::string manifest = manifest_line("a\r\nb", "jobname", "\"x\"") +
                         manifest_line("job-0000001\r\nX-Injected: 1", "jobname", "\"y\"") +
                         manifest_line("job-0000001\nGET /", "jobname", "\"z\"") +
                         manifest_line("job\u00850001", "jobname", "\"w\"");
  write_file(mock.path("m.ndjson"), manifest);
  int code = run_apply(mock, mock.path("m.ndjson"), {});
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 2);
  CHECK(err.find("control characters") != std::string::npos);
  // With --skip-invalid they are recorded invalid, and still nothing is sent.
  code = run_apply(mock, mock.path("m.ndjson"),
                   {"--skip-invalid", "--results", mock.path("r.ndjson")});
  CHECK(code == 1);
  for (const auto& line : read_lines(mock.path("r.ndjson")))
    CHECK(json::parse(line).at("outcome").as_string() == "invalid");
  mock.stop();
  CHECK(read_lines(mock.journal()).empty());
}

TEST_CASE("injection: job ids \".\" and \"..\" (dot segments a server or proxy would remove) are "
          "refused") {
  temp_dir dir;
  write_file(dir.path("m.ndjson"), manifest_line(".", "jobname", "\"x\"") +
                                       manifest_line("..", "jobname", "\"y\"") +
                                       manifest_line("...", "jobname", "\"ok\""));
  child_process run({JOBPATCH_BIN, "validate", dir.path("m.ndjson")}, {}, dir.path("out"),
                    dir.path("err"));
  CHECK(run.wait(std::chrono::seconds(30)) == 2);
  std::string text = read_file(dir.path("out")) + read_file(dir.path("err"));
  INFO(text);
  CHECK(text.find("line 1: jobId \".\" cannot be sent") != std::string::npos);
  CHECK(text.find("line 2: jobId \"..\" cannot be sent") != std::string::npos);
  CHECK(text.find("line 3") == std::string::npos); // "..." is an ordinary segment
}
