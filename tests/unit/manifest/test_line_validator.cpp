#include <jobpatch/manifest/line_validator.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {
struct checked {
  bool ok;
  operation op;
  invalid_line error;
};

checked check(std::string_view line, std::uint64_t number = 7) {
  static line_validator validator;
  checked c;
  c.ok = validator.validate(line, line.size(), number, c.op);
  c.error = validator.error();
  return c;
}
} // namespace

TEST_CASE("line_validator: a valid line becomes an operation with the exact body text") {
  auto c =
      check(R"({"jobId":"8c1f","op":"configs","body":{ "taskTimeout" : 600 ,"isTestJob":false}})");
  REQUIRE(c.ok);
  CHECK(c.op.line == 7);
  CHECK(c.op.job_id == "8c1f");
  CHECK(c.op.op == op_kind::configs);
  CHECK(c.op.body == R"({ "taskTimeout" : 600 ,"isTestJob":false})");
  CHECK(c.op.fingerprint == 0); // numbered (and keyed) by line_source
}

TEST_CASE("line_validator: key order does not matter — body before op is checked against op") {
  auto c = check(R"({"body":"nightly-42" , "op":"jobname","jobId":"j"})");
  REQUIRE(c.ok);
  CHECK(c.op.body == R"("nightly-42")");
  CHECK(c.op.op == op_kind::jobname);
  auto bad = check(R"({"body":{"taskTimeout":"x"},"op":"configs","jobId":"j"})");
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.message == R"(configs.taskTimeout must be an integer, got string "x")");
  CHECK(bad.error.job_id == "j");
  CHECK(bad.error.op == op_kind::configs);
  CHECK(bad.error.line == 7);
}

TEST_CASE("line_validator: odd but valid job ids") {
  auto c = check(R"({"jobId":"a/b?c#d%e f","op":"jobname","body":"x"})");
  REQUIRE(c.ok);
  CHECK(c.op.job_id == "a/b?c#d%e f");
  auto u = check(R"({"jobId":"j\u00f6b-\u65e5\u672c","op":"jobname","body":"x"})");
  REQUIRE(u.ok);
  CHECK(u.op.job_id == "j\xC3\xB6"
                       "b-\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST_CASE("line_validator: job id errors") {
  CHECK(check(R"({"jobId":"","op":"jobname","body":"x"})").error.message ==
        "jobId must not be empty");
  CHECK(check(R"({"jobId":5,"op":"jobname","body":"x"})").error.message ==
        "jobId must be a string, got number 5");
  CHECK(check(R"({"jobId":"a\nb","op":"jobname","body":"x"})").error.message ==
        R"(jobId must not contain control characters: "a\nb")");
  CHECK(check(R"({"jobId":"a\u007fb","op":"jobname","body":"x"})")
            .error.message.find("control characters") != std::string::npos);
  CHECK(check(R"({"jobId":"a\u0085b","op":"jobname","body":"x"})")
            .error.message.find("control characters") != std::string::npos);
  std::string long_id =
      R"({"jobId":")" + std::string(1025, 'a') + R"(","op":"jobname","body":"x"})";
  CHECK(check(long_id).error.message == "jobId is 1025 bytes, over the limit of 1024");
}

TEST_CASE("line_validator: a job id of exactly the limit is accepted") {
  std::string id(line_validator::max_job_id_bytes, 'a');
  auto c = check(R"({"jobId":")" + id + R"(","op":"jobname","body":"x"})");
  REQUIRE(c.ok);
  CHECK(c.op.job_id == id);
}

TEST_CASE("line_validator: structure errors") {
  CHECK(check(R"({"jobId":"j","op":"configs"})").error.message == R"(missing key "body")");
  CHECK(check(R"({"jobId":"j","body":"x"})").error.message == R"(missing key "op")");
  CHECK(check(R"({"op":"jobname","body":"x"})").error.message == R"(missing key "jobId")");
  CHECK(check(R"({"jobId":"j","op":"jobname","body":"x","extra":1})").error.message ==
        R"(unknown key "extra" (expected jobId, op, body))");
  CHECK(check(R"({"jobID":"j","op":"jobname","body":"x"})").error.message ==
        R"(unknown key "jobID" (did you mean "jobId"?))");
  CHECK(check(R"({"jobId":"j","jobId":"k","op":"jobname","body":"x"})").error.message ==
        R"(duplicate key "jobId")");
  CHECK(check(R"({"jobId":"j","op":"jobname","body":"x","body":"y"})").error.message ==
        R"(duplicate key "body")");
  CHECK(check(R"({"jobId":"j","op":"Configs","body":{}})").error.message ==
        R"(unknown op "Configs" (did you mean "configs"?))");
  // The same words for --op (ids_option.cpp).
  CHECK(unknown_op_message("config") == R"(unknown op "config" (did you mean "configs"?))");
  CHECK(unknown_op_message("jobnmae") == R"(unknown op "jobnmae" (did you mean "jobname"?))");
  CHECK(unknown_op_message("rename") ==
        R"(unknown op "rename" (expected datasource, params, jobname or configs))");
  CHECK(check(R"({"jobId":"j","op":7,"body":{}})").error.message ==
        "op must be a string, got number 7");
  CHECK(check("[1,2]").error.message == "line must be a JSON object, got array");
  CHECK(check("\"just a string\"").error.message ==
        R"(line must be a JSON object, got string "just a string")");
  CHECK(check(R"({"jobId":"j","op":"jobname","body":"x"} {"a":1})")
            .error.message.find("invalid JSON") == 0);
  CHECK(check(R"({"value" 2})").error.message.find("invalid JSON") == 0);
  CHECK(check(R"({"jobId":"j","op":"jobname","body":"x")").error.message.find("invalid JSON") == 0);
  CHECK(check("not json").error.message.find("invalid JSON") == 0);
  CHECK(check("{\"jobId\":\"\xC3\x28\",\"op\":\"jobname\",\"body\":\"x\"}").error.message ==
        "invalid UTF-8");
}

TEST_CASE("line_validator: a bad line leaves no trace in the next one") {
  line_validator validator;
  operation op;
  std::string bad = R"({"jobId":"j","op":"params","body":{"app":{"a":[1,2)";
  CHECK_FALSE(validator.validate(bad, bad.size(), 1, op));
  std::string good = R"({"jobId":"k","op":"params","body":{"app":{"a":[1,2]}}})";
  REQUIRE(validator.validate(good, good.size(), 2, op));
  CHECK(op.job_id == "k");
  CHECK(op.body == R"({"app":{"a":[1,2]}})");
  CHECK(validator.error().message.empty());
}

TEST_CASE("line_validator: text after the JSON value is named as such, with what trails") {
  const std::string valid = R"({"jobId":"j","op":"jobname","body":"n"})";
  // simdjson reports these as an unclosed object or array; the value is closed.
  auto nul = check(valid + std::string(1, '\0'));
  CHECK_FALSE(nul.ok);
  CHECK(nul.error.message == R"(invalid JSON: unexpected text after the JSON value: "\u0000")");
  auto comment = check(valid + " // set by hand");
  CHECK_FALSE(comment.ok);
  CHECK(comment.error.message ==
        R"(invalid JSON: unexpected text after the JSON value: "// set by hand")");
  auto second = check(valid + " {}");
  CHECK_FALSE(second.ok);
  CHECK(second.error.message == R"(invalid JSON: unexpected text after the JSON value: "{}")");
  // A value that really is unclosed keeps its own message.
  CHECK(check(R"({"jobId":"j","op":"jobname","body":"n")").error.message ==
        "invalid JSON: unclosed object or array");
  CHECK(check(valid + "   ").ok);
}
