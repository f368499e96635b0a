#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace jobpatch;

namespace {
// Feeds `input` to a reader through a pipe (in a forked writer, so large inputs do not
// block) and collects what it returns.
struct read_line {
  std::uint64_t number;
  std::string text;
  std::size_t oversized;
};

std::vector<read_line> read_all(const std::string& input, std::size_t max_line = 1 << 20,
                                const ids_template* ids = nullptr) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::size_t done = 0;
    while (done < input.size()) {
      // Small, uneven writes exercise lines that straddle reads.
      std::size_t n = std::min<std::size_t>(input.size() - done, 4093);
      ssize_t w = ::write(fds[1], input.data() + done, n);
      if (w <= 0) _exit(1);
      done += static_cast<std::size_t>(w);
    }
    _exit(0);
  }
  ::close(fds[1]);
  manifest_reader reader(fds[0], true, max_line);
  if (ids) reader.use_ids_template(*ids);
  std::vector<read_line> out;
  manifest_line line;
  while (reader.next(line)) {
    if (!line.oversized) CHECK(line.readable >= line.text.size() + 64);
    out.push_back({line.number, std::string(line.text), line.oversized});
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}
} // namespace

TEST_CASE("manifest_reader: LF, CRLF, blank lines and a last line without newline") {
  auto lines = read_all("a\r\n\n  \t\nb\nc\r\n\r\nd");
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].number == 1);
  CHECK(lines[0].text == "a");
  CHECK(lines[1].number == 4);
  CHECK(lines[1].text == "b");
  CHECK(lines[2].text == "c");
  CHECK(lines[3].number == 7);
  CHECK(lines[3].text == "d");
}

TEST_CASE("manifest_reader: a UTF-8 BOM at the start is dropped, elsewhere kept") {
  auto lines = read_all("\xEF\xBB\xBFx\n\xEF\xBB\xBFy\n");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].text == "x");
  CHECK(lines[1].text == "\xEF\xBB\xBFy");
}

TEST_CASE("manifest_reader: empty input and only blank lines") {
  CHECK(read_all("").empty());
  CHECK(read_all("\n\n\r\n").empty());
}

TEST_CASE("manifest_reader: over-long lines are reported, skipped, and do not buffer") {
  std::string input = "short\n" + std::string(5000, 'x') + "\nafter\n" + std::string(3000, 'y');
  auto lines = read_all(input, 1000);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].text == "short");
  CHECK(lines[1].number == 2);
  CHECK(lines[1].oversized == 5000);
  CHECK(lines[1].text.empty());
  CHECK(lines[2].text == "after");
  CHECK(lines[3].number == 4);
  CHECK(lines[3].oversized == 3000);
}

TEST_CASE("manifest_reader: many lines across many reads keep their numbers and text") {
  std::string input;
  for (int i = 1; i <= 50000; ++i) input += "line-" + std::to_string(i) + "\n";
  auto lines = read_all(input, 100);
  REQUIRE(lines.size() == 50000);
  for (int i : {0, 1, 4095, 25000, 49999}) {
    CHECK(lines[i].number == static_cast<std::uint64_t>(i + 1));
    CHECK(lines[i].text == "line-" + std::to_string(i + 1));
  }
}

TEST_CASE("manifest_reader: a line exactly at the limit is accepted") {
  auto lines = read_all(std::string(100, 'z') + "\n" + std::string(101, 'z') + "\n", 100);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].oversized == 0);
  CHECK(lines[0].text.size() == 100);
  CHECK(lines[1].oversized == 101);
}

TEST_CASE("manifest_reader: opening a missing file throws") {
  CHECK_THROWS_AS(manifest_reader::open("/nonexistent/manifest.ndjson"), std::system_error);
}

TEST_CASE("manifest_reader: --ids turns each id into a manifest line, numbered by the ids file") {
  ids_template t{"configs", R"({"taskTimeout":600})"};
  auto lines = read_all("# the jobs\n  job-1 \t\n\n#job-2\njob\"3\\\x01\r\n", 1 << 20, &t);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].number == 2);
  CHECK(lines[0].text == R"({"jobId":"job-1","op":"configs","body":{"taskTimeout":600}})");
  CHECK(lines[1].number == 5);
  CHECK(lines[1].text == R"({"jobId":"job\"3\\\u0001","op":"configs","body":{"taskTimeout":600}})");
}

TEST_CASE("manifest_reader: an id named again in --ids is skipped, and counted once per reader") {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> told;
  ids_template t{"jobname", "\"a\""};
  t.on_duplicates = [&](std::uint64_t duplicates, std::uint64_t first_line) {
    told.emplace_back(duplicates, first_line);
  };
  // Compared once trimmed, byte for byte (case and escapes matter); a comment never counts.
  std::string input = "job-1\njob-2\n# job-1\n  job-1\t\nJOB-1\njob-2\njob\"3\njob\"3\n";
  // A long list: the ids fill more than one of the set's blocks.
  for (int i = 0; i < 5000; ++i) input += "job-" + std::string(20, 'x') + std::to_string(i) + "\n";
  input += "job-" + std::string(20, 'x') + "4999\n";
  // An id longer than a job id may be is not remembered: the validator refuses each line.
  std::string too_long(line_validator::max_job_id_bytes + 1, 'L');
  input += too_long + "\n" + too_long + "\n";
  auto lines = read_all(input, 1 << 20, &t);
  REQUIRE(lines.size() == 4 + 5000 + 2);
  CHECK(lines[0].number == 1);
  CHECK(lines[1].number == 2);
  CHECK(lines[2].number == 5); // JOB-1
  CHECK(lines[3].number == 7); // job"3
  CHECK(lines[4].number == 9);
  REQUIRE(told.size() == 1); // at the end of the input, once
  CHECK(told[0] == std::pair<std::uint64_t, std::uint64_t>(4, 4));

  // Without duplicates nothing is told; a plain manifest never skips a repeated line.
  told.clear();
  CHECK(read_all("job-1\njob-2\n", 1 << 20, &t).size() == 2);
  CHECK(told.empty());
  CHECK(read_all("{}\n{}\n").size() == 2);
}

TEST_CASE("manifest_reader: head() keeps the input's first bytes across reads, BOM included") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::string input = "\xEF\xBB\xBF" + std::string(600, 'a') + "\n";
  REQUIRE(::write(fds[1], input.data(), 2) == 2); // the first read gets these two bytes
  manifest_reader reader(fds[0], true);
  manifest_line line;
  bool read = false;
  std::thread next([&] { read = reader.next(line); });
  int waiting = 1;
  while (waiting > 0 && ::ioctl(fds[1], FIONREAD, &waiting) == 0) std::this_thread::yield();
  REQUIRE(waiting == 0); // the reader took them
  REQUIRE(::write(fds[1], input.data() + 2, input.size() - 2) ==
          static_cast<ssize_t>(input.size() - 2));
  ::close(fds[1]);
  next.join();
  REQUIRE(read);
  CHECK(line.text == std::string(600, 'a')); // the BOM is dropped from the line, not the head
  CHECK(reader.head() == std::string_view(input).substr(0, manifest_reader::head_bytes));
  manifest_reader moved(std::move(reader));
  CHECK(moved.head() == std::string_view(input).substr(0, manifest_reader::head_bytes));
  CHECK(manifest_reader(-1, false).head().empty());
}

TEST_CASE("manifest_reader: a directory is refused, named") {
  try {
    (void)manifest_reader::open("/tmp");
    FAIL("a directory was opened");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "the manifest /tmp is a directory; name an NDJSON file");
  }
}

TEST_CASE("ids_body_line: line ends outside strings become spaces, the ends are trimmed") {
  CHECK(ids_body_line(" {\n  \"taskTimeout\": 600\r\n}\n") == R"({   "taskTimeout": 600  })");
  CHECK(ids_body_line("\"a\\\"\nb\"") == "\"a\\\"\nb\""); // inside a string: left for the validator
  CHECK(ids_body_line(" \n ").empty());
}
