// A test case that cannot run here because something it needs is missing (a program, a
// permission) says so and is reported skipped, never passed:
//
//   if (!tinyproxy_installed()) {
//     jobpatch::test::skip("tinyproxy is not installed (scripts/install-deps.sh installs it)");
//     return;
//   }
//
// doctest 2.4 has no run-time skip: its skip decorator is decided when the case is
// registered, and a case skipped that way is not even listed, so ctest (which discovers
// the cases with --list-test-cases) would never show it. Instead tests/doctest_main.cpp
// ends a process in which nothing failed and a case skipped itself with exit code 77,
// which tests/CMakeLists.txt gives ctest as SKIP_RETURN_CODE: ctest runs one case per
// process and prints "Skipped".
#pragma once

#include <source_location>
#include <string_view>

namespace jobpatch::test {

// The exit code of a test process in which nothing failed and a case skipped itself.
inline constexpr int skipped_exit_code = 77;

// Marks the running test case skipped, printing `reason` at the caller's line. The caller
// returns from the test case at once.
void skip(std::string_view reason, std::source_location where = std::source_location::current());

// Whether `thing` is named in JOBPATCH_TEST_MISSING (comma-separated, e.g. "tinyproxy,tmpfs"):
// a test that looks a tool up by its absolute path asks this too, so that its skip path
// can be run on a machine that has the tool.
bool pretend_missing(std::string_view thing);

} // namespace jobpatch::test
