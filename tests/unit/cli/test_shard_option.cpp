#include "cli/shard_option.hpp"

#include "cli/cli_error.hpp"

#include <doctest/doctest.h>

using jobpatch::cli::cli_error;
using jobpatch::cli::resolve_shard;
using std::nullopt;

namespace {
// Why resolve_shard refused: a usage error (exit 2); empty when it did not.
std::string refusal(std::string_view option, std::optional<std::string_view> completion_index) {
  try {
    resolve_shard(option, completion_index);
  } catch (const cli_error& e) {
    CHECK(e.exit_code() == jobpatch::cli::exit_usage);
    CHECK(std::string(e.what()).size() > 0);
    return e.what();
  }
  return {};
}
} // namespace

TEST_CASE("--shard absent: the whole manifest, with a note inside an Indexed Job") {
  auto plain = resolve_shard("", nullopt);
  CHECK(plain.note.empty());
  CHECK(plain.index == 0);
  CHECK(plain.count == 1);

  auto in_job = resolve_shard("", "3");
  CHECK(in_job.count == 1);
  CHECK(in_job.note.find("JOB_COMPLETION_INDEX") != std::string::npos);
}

TEST_CASE("--shard K/N is 1-based and stored 0-based") {
  auto first = resolve_shard("1/4", nullopt);
  CHECK(first.index == 0);
  CHECK(first.count == 4);
  auto last = resolve_shard("4/4", nullopt);
  CHECK(last.index == 3);
  CHECK(resolve_shard("1/1", nullopt).count == 1);
}

TEST_CASE("--shard N takes K from JOB_COMPLETION_INDEX (0-based)") {
  auto pod0 = resolve_shard("4", "0");
  CHECK(pod0.note.empty());
  CHECK(pod0.index == 0);
  CHECK(pod0.count == 4);
  auto pod3 = resolve_shard("4", "3");
  CHECK(pod3.index == 3);
  CHECK(pod3.count == 4);
}

TEST_CASE("--shard N without a usable JOB_COMPLETION_INDEX is a usage error") {
  CHECK(refusal("4", nullopt).find("not set") != std::string::npos);
  CHECK(refusal("4", "4").find("completions must equal N") != std::string::npos);
  CHECK_FALSE(refusal("4", "").empty());
  CHECK_FALSE(refusal("4", "-1").empty());
  CHECK_FALSE(refusal("4", "1x").empty());
  CHECK_FALSE(refusal("4", " 1").empty());
}

TEST_CASE("an explicit K wins over JOB_COMPLETION_INDEX, and says so when they differ") {
  auto same = resolve_shard("2/4", "1");
  CHECK(same.index == 1);
  CHECK(same.note.empty());
  auto differ = resolve_shard("2/4", "3");
  CHECK(differ.index == 1);
  CHECK(differ.note.find("wins") != std::string::npos);
  CHECK(resolve_shard("2/4", "junk").index == 1);
}

TEST_CASE("malformed --shard values are refused") {
  for (const char* bad : {"0/4", "5/4", "0", "/4", "1/", "1/0", "-1/4", "1/-4", "a/b", "1/4/2",
                          " 1/4", "1/4 ", "+1/4", "4294967296/4294967296", "1.5/4"}) {
    CAPTURE(bad);
    CHECK_FALSE(refusal(bad, nullopt).empty());
    CHECK_FALSE(refusal(bad, "0").empty());
  }
}
