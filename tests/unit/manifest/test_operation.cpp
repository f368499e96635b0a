#include <jobpatch/manifest/operation.hpp>

#include <doctest/doctest.h>

using namespace jobpatch;

TEST_CASE("operation: op names round-trip and are case-sensitive") {
  for (auto op : {op_kind::datasource, op_kind::params, op_kind::jobname, op_kind::configs})
    CHECK(parse_op_kind(to_string(op)) == op);
  CHECK(to_string(op_kind::configs) == "configs");
  CHECK_FALSE(parse_op_kind("Configs"));
  CHECK_FALSE(parse_op_kind("config"));
  CHECK_FALSE(parse_op_kind(""));
}

TEST_CASE("operation: fingerprint is stable and sensitive to every field") {
  auto base = fingerprint_of(17, "job-1", op_kind::configs, R"({"taskTimeout":600})");
  // A fixed value: the fingerprint is stored in results files and must never change.
  CHECK(base == fingerprint_of(17, "job-1", op_kind::configs, R"({"taskTimeout":600})"));
  CHECK(base != fingerprint_of(18, "job-1", op_kind::configs, R"({"taskTimeout":600})"));
  CHECK(base != fingerprint_of(17, "job-2", op_kind::configs, R"({"taskTimeout":600})"));
  CHECK(base != fingerprint_of(17, "job-1", op_kind::params, R"({"taskTimeout":600})"));
  CHECK(base != fingerprint_of(17, "job-1", op_kind::configs, R"({"taskTimeout":601})"));
  // Field boundaries matter.
  CHECK(fingerprint_of(1, "ab", op_kind::jobname, "\"c\"") !=
        fingerprint_of(1, "a", op_kind::jobname, "b\"c\""));
  // Golden value: results files written by earlier versions must still match on resume.
  CHECK(base == 10022763281211229500ull);
}
