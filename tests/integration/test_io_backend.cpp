// Issue 26: jobpatch runs on Asio's io_uring backend (JOBPATCH_IO_URING); where the kernel
// refuses io_uring it becomes jobpatch-epoll, the same program on epoll, installed beside
// it (src/net/io_backend.hpp). The refusal is a real one: deny_io_uring runs jobpatch under
// a seccomp filter that fails io_uring_setup with EPERM, as a container's profile does.

#include "../test_skip.hpp"
#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

// `jobpatch --version` (through `wrapper` when not empty): its exit code; its output in `out`.
int version_of(const temp_dir& dir, const std::string& program, std::string& out,
               const std::string& wrapper = {}) {
  std::vector<std::string> argv = {program, "--version"};
  if (!wrapper.empty()) argv.insert(argv.begin(), wrapper);
  child_process run(argv, {}, dir.path("version.out"), dir.path("version.err"));
  int code = run.wait(std::chrono::seconds(30));
  out = read_file(dir.path("version.out")) + read_file(dir.path("version.err"));
  return code;
}

// Why the fallback cannot be tested with this build, or empty.
std::string fallback_missing() {
  if (!JOBPATCH_TEST_IO_URING) return "this build runs on epoll (JOBPATCH_IO_URING=OFF)";
  auto epoll = std::filesystem::path(JOBPATCH_BIN).parent_path() / "jobpatch-epoll";
  if (!std::filesystem::exists(epoll))
    return "no jobpatch-epoll beside jobpatch (JOBPATCH_EPOLL_FALLBACK=OFF)";
  return {};
}

} // namespace

TEST_CASE("io backend: jobpatch --version names the backend it runs on") {
  temp_dir dir;
  std::string out;
  REQUIRE(version_of(dir, JOBPATCH_BIN, out) == 0);
  INFO(out);
  if (JOBPATCH_TEST_IO_URING)
    CHECK((out.find("I/O: io_uring\n") != std::string::npos ||
           out.find("I/O: epoll (the kernel refused io_uring: ") != std::string::npos));
  else
    CHECK(out.find("I/O: epoll\n") != std::string::npos);
}

TEST_CASE("io backend: where the kernel refuses io_uring, jobpatch runs on epoll and says "
          "nothing") {
  if (std::string missing = fallback_missing(); !missing.empty()) {
    skip(missing);
    return;
  }
  temp_dir dir;
  std::string out;
  REQUIRE(version_of(dir, JOBPATCH_BIN, out, JOBPATCH_DENY_IO_URING_BIN) == 0);
  INFO(out);
  CHECK(out.find("I/O: epoll (the kernel refused io_uring: io_uring_setup: Operation not "
                 "permitted)") != std::string::npos);

  // A whole run, on epoll: every line applied in order, and not a word about it on stderr
  // (which holds the run's report).
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 200, 20);
  std::vector<std::string> argv = jobpatch_argv(
      mock, "apply", manifest,
      {"--connections", "4", "--results", mock.path("r.ndjson"), "--progress", "never"});
  argv.insert(argv.begin(), JOBPATCH_DENY_IO_URING_BIN);
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("apply.out"),
                    mock.path("apply.err"));
  CHECK(run.wait(std::chrono::seconds(120)) == 0);
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(err.find("200 lines: 200 ok") != std::string::npos);
  CHECK(err.find("io_uring") == std::string::npos);
  CHECK(err.find("epoll") == std::string::npos);
  auto records = read_lines(mock.path("r.ndjson"));
  CHECK(records.size() == 200);
  for (const auto& line : records)
    CHECK(json::parse(line).as_object().at("outcome").as_string() == "ok");
  mock.stop();
  CHECK(check_applied_in_order(manifest, mock.journal()) == "");
}

TEST_CASE("io backend: a refusing kernel and no jobpatch-epoll beside jobpatch: exit 2, the "
          "missing program named") {
  if (!JOBPATCH_TEST_IO_URING) {
    skip("this build runs on epoll (JOBPATCH_IO_URING=OFF)");
    return;
  }
  temp_dir dir;
  std::string alone = dir.path("jobpatch");
  std::filesystem::copy_file(JOBPATCH_BIN, alone);
  std::filesystem::permissions(alone, std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  std::string out;
  CHECK(version_of(dir, alone, out, JOBPATCH_DENY_IO_URING_BIN) == 2);
  INFO(out);
  CHECK(out.find("jobpatch: the kernel refuses io_uring (io_uring_setup: Operation not "
                 "permitted), and /") == 0);
  CHECK(out.find("/jobpatch-epoll, the build of jobpatch for such kernels, cannot be run: No "
                 "such file or directory") != std::string::npos);
}
