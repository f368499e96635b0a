#include "cli/shard_option.hpp"

#include <doctest/doctest.h>

using jobpatch::cli::resolve_shard;
using std::nullopt;

TEST_CASE("--shard absent: the whole manifest, with a note inside an Indexed Job") {
  auto plain = resolve_shard("", nullopt);
  CHECK(plain.error.empty());
  CHECK(plain.note.empty());
  CHECK(plain.index == 0);
  CHECK(plain.count == 1);

  auto in_job = resolve_shard("", "3");
  CHECK(in_job.error.empty());
  CHECK(in_job.count == 1);
  CHECK(in_job.note.find("JOB_COMPLETION_INDEX") != std::string::npos);
}

TEST_CASE("--shard K/N is 1-based and stored 0-based") {
  auto first = resolve_shard("1/4", nullopt);
  CHECK(first.error.empty());
  CHECK(first.index == 0);
  CHECK(first.count == 4);
  auto last = resolve_shard("4/4", nullopt);
  CHECK(last.index == 3);
  CHECK(resolve_shard("1/1", nullopt).count == 1);
}

TEST_CASE("--shard N takes K from JOB_COMPLETION_INDEX (0-based)") {
  auto pod0 = resolve_shard("4", "0");
  CHECK(pod0.error.empty());
  CHECK(pod0.note.empty());
  CHECK(pod0.index == 0);
  CHECK(pod0.count == 4);
  auto pod3 = resolve_shard("4", "3");
  CHECK(pod3.index == 3);
  CHECK(pod3.count == 4);
}

TEST_CASE("--shard N without a usable JOB_COMPLETION_INDEX is a usage error") {
  CHECK(resolve_shard("4", nullopt).error.find("not set") != std::string::npos);
  CHECK(resolve_shard("4", "4").error.find("completions must equal N") != std::string::npos);
  CHECK_FALSE(resolve_shard("4", "").error.empty());
  CHECK_FALSE(resolve_shard("4", "-1").error.empty());
  CHECK_FALSE(resolve_shard("4", "1x").error.empty());
  CHECK_FALSE(resolve_shard("4", " 1").error.empty());
}

TEST_CASE("an explicit K wins over JOB_COMPLETION_INDEX, and says so when they differ") {
  auto same = resolve_shard("2/4", "1");
  CHECK(same.index == 1);
  CHECK(same.note.empty());
  auto differ = resolve_shard("2/4", "3");
  CHECK(differ.error.empty());
  CHECK(differ.index == 1);
  CHECK(differ.note.find("wins") != std::string::npos);
  CHECK(resolve_shard("2/4", "junk").index == 1);
}

TEST_CASE("malformed --shard values are refused") {
  for (const char* bad : {"0/4", "5/4", "0", "/4", "1/", "1/0", "-1/4", "1/-4", "a/b", "1/4/2",
                          " 1/4", "1/4 ", "+1/4", "4294967296/4294967296", "1.5/4"}) {
    CAPTURE(bad);
    CHECK_FALSE(resolve_shard(bad, nullopt).error.empty());
    CHECK_FALSE(resolve_shard(bad, "0").error.empty());
  }
}
