// Replays the fuzz seed corpora and every input a fuzzer ever crashed on
// (tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/) through the same entry
// functions the libFuzzer executables call, so they run in every ctest, with any compiler.

#include "../test_skip.hpp"
#include "fuzz_entries.hpp"
#include "net/io_backend.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using entry_function = int (*)(const std::uint8_t*, std::size_t);

// Runs every file under corpus/<target> and regressions/<target>; returns how many.
std::size_t replay(const std::string& target, entry_function entry) {
  std::size_t count = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    fs::path dir = fs::path(JOBPATCH_FUZZ_DIR) / kind / target;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      INFO(file.string());
      CHECK_NOTHROW(entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      ++count;
    }
  }
  return count;
}

} // namespace

using namespace jobpatch::fuzz;

TEST_CASE("fuzz replay: line_validator") {
  CHECK(replay("line_validator", line_validator_entry) > 3);
}
TEST_CASE("fuzz replay: manifest_reader") {
  CHECK(replay("manifest_reader", manifest_reader_entry) > 3);
}
TEST_CASE("fuzz replay: response_parser") {
  CHECK(replay("response_parser", response_parser_entry) > 3);
}
TEST_CASE("fuzz replay: job_document") { CHECK(replay("job_document", job_document_entry) > 3); }
TEST_CASE("fuzz replay: body_validator") {
  CHECK(replay("body_validator", body_validator_entry) > 3);
}
TEST_CASE("fuzz replay: retry_after") { CHECK(replay("retry_after", retry_after_entry) > 3); }
// http_connection runs on jobpatch's own backend: io_uring in a JOBPATCH_IO_URING build.
TEST_CASE("fuzz replay: http_response") {
  if (std::string refusal = jobpatch::net::io_uring_refusal(); !refusal.empty()) {
    jobpatch::test::skip("the kernel refuses io_uring: " + refusal);
    return;
  }
  CHECK(replay("http_response", http_response_entry) > 3);
}

// Found by fuzz_response_parser: a server's error message reached stderr with its control
// characters, so a hostile server could write terminal escape sequences.
#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

TEST_CASE("fuzz regression: error_text never carries control characters or terminal escapes") {
  jobpatch::response_parser parser;
  auto shown_error = [&](std::string_view body) {
    return jobpatch::secret_scrubber{}.shown(parser.error_text(body));
  };
  CHECK(shown_error(R"({"message":"a\u001b[2Jb\u0007c\u009b1md\ne"})") == "a [2Jb c 1md e");
  CHECK(shown_error("x\x1b]0;t\x07y\x7f\xc2\x9bz\xff") == "x ]0;t y  z?");
  CHECK(shown_error(R"({"message":"caf\u00e9 \u2713"})") == "caf\xc3\xa9 \xe2\x9c\x93");
}
