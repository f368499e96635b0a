// The main of every doctest executable: doctest's own, plus exit code 77 (ctest:
// "Skipped") when nothing failed and a test case skipped itself (tests/test_skip.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test_skip.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
int skipped_cases = 0; // doctest runs test cases one after another, on the main thread
} // namespace

namespace jobpatch::test {

void skip(std::string_view reason, std::source_location where) {
  ADD_MESSAGE_AT(where.file_name(), static_cast<int>(where.line()), "skipped: " << reason);
  ++skipped_cases;
}

bool pretend_missing(std::string_view thing) {
  const char* missing = std::getenv("JOBPATCH_TEST_MISSING");
  if (!missing) return false;
  std::string_view list(missing);
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == thing) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace jobpatch::test

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int status = context.run();
  if (context.shouldExit() || status != 0 || skipped_cases == 0) return status;
  std::printf("[doctest] %d test case%s skipped: exit %d\n", skipped_cases,
              skipped_cases == 1 ? "" : "s", jobpatch::test::skipped_exit_code);
  return jobpatch::test::skipped_exit_code;
}
