// --force-undo keeps an undo file's lines as FILE.N: the first free N, never over a file
// (issue 23).

#include "cli/output_guard.hpp"

#include "unit/temp_files.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <unistd.h>

using jobpatch::test::slurp;
using jobpatch::test::temp_dir;
namespace fs = std::filesystem;
namespace cli = jobpatch::cli;

namespace {

void put(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

} // namespace

TEST_CASE("output_guard: an undo file moves to the first free FILE.N, never over a file") {
  temp_dir dir("numbered");
  std::string undo = dir / "u.ndjson";
  put(undo, "first\n");
  CHECK(cli::first_free_numbered(undo) == undo + ".1");
  CHECK(cli::move_to_numbered(undo) == undo + ".1");
  CHECK(!fs::exists(undo));
  CHECK(slurp(undo + ".1") == "first\n");

  // FILE.2 is taken (by anything, a dangling symlink too): the next one is FILE.3.
  put(undo, "second\n");
  fs::create_symlink("nowhere", undo + ".2");
  CHECK(cli::first_free_numbered(undo) == undo + ".3");
  CHECK(cli::move_to_numbered(undo) == undo + ".3");
  CHECK(slurp(undo + ".1") == "first\n");
  CHECK(fs::is_symlink(undo + ".2"));
  CHECK(slurp(undo + ".3") == "second\n");

  // A file that cannot be moved stays where it was.
  CHECK_THROWS_AS(cli::move_to_numbered(dir / "none/u.ndjson"), std::system_error);
}
