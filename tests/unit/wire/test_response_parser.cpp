#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {
operation make_op(op_kind kind, std::string body, std::string id = "job-1") {
  operation op;
  op.job_id = std::move(id);
  op.op = kind;
  op.body = std::move(body);
  return op;
}

// A job document in the shape of the seed's example, with the given config.
std::string
answer(std::string_view id,
       std::string_view config = R"({"taskTimeout":1,"jobTimeout":1,"isTestJob":true})") {
  std::string out = R"({"job":{"id":")";
  out += id;
  out += R"(","templateId":"t","name":"old","config":)";
  out += config;
  out +=
      R"(,"state":"JOB_STATE_NEW","params":{"preset":"","partitioner":{},"assembler":{},"app":{}},)"
      R"("dataSource":{"dataSourceDescriptor":"url","params":{}},)"
      R"("dataDestination":{"dataSourceDescriptor":"bucket","params":{}})";
  out += R"(},"templateInfo":{"id":"x"}})";
  return out;
}

// Server text as an output shows it (no secrets known).
std::string shown(server_text text) { return secret_scrubber{}.shown(text); }
std::string shown_error(response_parser& parser, std::string_view body) {
  return shown(parser.error_text(body));
}

patch_verdict check(const operation& op, const std::string& body, bool expect_parsed = true) {
  static response_parser parser;
  patch_verdict v;
  CHECK(parser.check_patch(op, body, body.size(), v) == expect_parsed);
  return v;
}
} // namespace

TEST_CASE("response_parser: configs verified, int64 as string or number either way") {
  auto op = make_op(op_kind::configs, R"({"taskTimeout":"600","isTestJob":false})");
  auto v = check(op, answer("job-1", R"({"taskTimeout":600,"jobTimeout":"5","isTestJob":false})"));
  CHECK(v.job_matches);
  CHECK(v.verified);
  CHECK(shown(v.state) == "JOB_STATE_NEW");
  auto stale = check(op, answer("job-1"));
  CHECK(stale.job_matches);
  CHECK_FALSE(stale.verified);
  CHECK(stale.error == "the answer does not show the sent config");
}

TEST_CASE("response_parser: job id mismatch is reported") {
  auto op = make_op(op_kind::jobname, R"("new name")");
  auto v = check(op, answer("job-2"));
  CHECK_FALSE(v.job_matches);
  CHECK(shown(v.answered_id) == "job-2");
}

TEST_CASE("response_parser: jobname with escapes reads back") {
  auto op = make_op(op_kind::jobname, R"("caf\u00e9 \"x\"")");
  // The job object's own "name" comes after the template one in this document.
  std::string body = R"({"job":{"id":"job-1","name":"caf)"
                     "\xC3\xA9"
                     R"( \"x\"","state":"JOB_STATE_RUNNING"}})";
  auto v = check(op, body);
  CHECK(v.verified);
  CHECK(shown(v.state) == "JOB_STATE_RUNNING");
  CHECK_FALSE(check(op, R"({"job":{"id":"job-1","name":"other"}})").verified);
}

TEST_CASE("response_parser: params compare as subsets, opaque objects deeply") {
  auto op = make_op(op_kind::params, R"({"app":{"quality":"high","n":[1,2.0,{"z":null}]}})");
  std::string body =
      R"({"job":{"id":"job-1","params":{"preset":"","app":{"n":[1,2,{"z":null}],"quality":"high","added":1}}}})";
  CHECK(check(op, body).verified);
  std::string wrong = R"({"job":{"id":"job-1","params":{"app":{"n":[1,2],"quality":"high"}}}})";
  CHECK_FALSE(check(op, wrong).verified);
}

TEST_CASE("response_parser: integers are compared exactly, past what a double holds") {
  auto op = make_op(op_kind::params, R"({"app":{"seed":9223372036854775807,"n":1}})");
  CHECK(check(op, R"({"job":{"id":"job-1","params":{"app":{"seed":9223372036854775807,"n":1.0}}}})")
            .verified);
  // 2^63 is a uint64 for simdjson: as doubles the two would read as equal.
  CHECK_FALSE(
      check(op, R"({"job":{"id":"job-1","params":{"app":{"seed":9223372036854775808,"n":1}}}})")
          .verified);
}

TEST_CASE("response_parser: datasource checks each sent part") {
  auto op = make_op(op_kind::datasource,
                    R"({"dataDestination":{"dataSourceDescriptor":"bucket","params":{}}})");
  CHECK(check(op, answer("job-1")).verified);
  auto op2 = make_op(op_kind::datasource,
                     R"({"dataSource":{"dataSourceDescriptor":"s3","params":{"bucket":"b"}}})");
  auto v = check(op2, answer("job-1"));
  CHECK_FALSE(v.verified);
  CHECK(v.error == "the answer does not show the sent dataSource");
}

// The parser keeps the last sent body parsed (bulk runs send one body to many jobs): a
// body that differs, however little and wherever, must be parsed again.
TEST_CASE("response_parser: verdicts follow each sent body, never the previous one") {
  response_parser parser; // its own: the order of bodies is what is tested
  auto verified = [&](const operation& op, const std::string& body) {
    patch_verdict v;
    REQUIRE(parser.check_patch(op, body, body.size(), v));
    REQUIRE(v.job_matches);
    return v.verified;
  };
  auto a = make_op(op_kind::configs, R"({"taskTimeout":"600","isTestJob":false})");
  auto b = make_op(op_kind::configs, R"({"taskTimeout":"700","isTestJob":false})");
  std::string shows_a = answer("job-1", R"({"taskTimeout":600,"isTestJob":false})");
  std::string shows_b = answer("job-1", R"({"taskTimeout":700,"isTestJob":false})");
  // A, B, A, each against both answers.
  CHECK(verified(a, shows_a));
  CHECK_FALSE(verified(a, shows_b));
  CHECK(verified(b, shows_b));
  CHECK_FALSE(verified(b, shows_a));
  CHECK(verified(a, shows_a));
  CHECK_FALSE(verified(a, shows_b));
  CHECK(verified(a, shows_a));

  // Bodies of one length that differ only in their last value.
  std::string keys;
  for (int i = 0; i < 40; ++i) keys += R"("k)" + std::to_string(100 + i) + R"(":"v",)";
  auto late1 = make_op(op_kind::params, R"({"app":{)" + keys + R"("last":1}})");
  auto late2 = make_op(op_kind::params, R"({"app":{)" + keys + R"("last":2}})");
  REQUIRE(late1.body.size() == late2.body.size());
  std::string shows_late1 =
      R"({"job":{"id":"job-1","params":{"app":{)" + keys + R"("last":1,"extra":0}}}})";
  CHECK(verified(late1, shows_late1));
  CHECK_FALSE(verified(late2, shows_late1));
  CHECK(verified(late1, shows_late1));

  // A body that is a prefix of the previous one (not JSON), then the previous one again.
  auto cut = make_op(op_kind::params, late1.body.substr(0, late1.body.size() - 1));
  patch_verdict v;
  REQUIRE(parser.check_patch(cut, shows_late1, shows_late1.size(), v));
  CHECK_FALSE(v.verified);
  CHECK(v.error == "the answer does not show the sent body");
  CHECK(verified(late1, shows_late1));
  // Whitespace changes the text, not the meaning.
  auto spaced = make_op(op_kind::params, " " + late1.body + " ");
  CHECK(verified(spaced, shows_late1));
  CHECK_FALSE(verified(late2, shows_late1));
  // Another op with the same body text reads another field of the answer.
  auto as_name = make_op(op_kind::jobname, R"("old")");
  CHECK(verified(as_name, answer("job-1")));
  auto as_config = make_op(op_kind::configs, R"("old")");
  CHECK_FALSE(verified(as_config, answer("job-1")));
  CHECK(verified(as_name, answer("job-1")));

  // Both parts of a datasource update, each read back on its own: the same answer text
  // compared with another sent part, the same sent part with another answer.
  std::string src_s3 = R"({"dataSourceDescriptor":"s3","params":{"bucket":"b"}})";
  std::string src_url = R"({"dataSourceDescriptor":"url","params":{}})";
  std::string dst = R"({"dataSourceDescriptor":"bucket","params":{}})";
  auto both = [&](const std::string& source) {
    return make_op(op_kind::datasource,
                   R"({"dataSource":)" + source + R"(,"dataDestination":)" + dst + "}");
  };
  auto shows = [&](const std::string& source, const std::string& destination) {
    return R"({"job":{"id":"job-1","dataSource":)" + source + R"(,"dataDestination":)" +
           destination + "}}";
  };
  auto reason = [&](const operation& op, const std::string& body) {
    patch_verdict v;
    REQUIRE(parser.check_patch(op, body, body.size(), v));
    return v.verified ? std::string("verified") : v.error;
  };
  CHECK(reason(both(src_s3), shows(src_s3, dst)) == "verified");
  CHECK(reason(both(src_url), shows(src_s3, dst)) ==
        "the answer does not show the sent dataSource");
  CHECK(reason(both(src_url), shows(src_url, dst)) == "verified");
  CHECK(reason(both(src_url), shows(src_url, src_url)) ==
        "the answer does not show the sent dataDestination");
  CHECK(reason(both(src_s3), shows(src_s3, dst)) == "verified");
  CHECK(reason(both(src_s3), shows(src_s3, src_s3)) ==
        "the answer does not show the sent dataDestination");
  CHECK(reason(both(src_s3), shows(src_s3, dst)) == "verified");
}

TEST_CASE("response_parser: bodies that are not job documents") {
  auto op = make_op(op_kind::jobname, R"("x")");
  CHECK(check(op, "", false).error.find("not JSON") != std::string::npos);
  CHECK(check(op, "<html>oops</html>", false).error == "the 200 answer is not a JSON object");
  CHECK_FALSE(check(op, R"({"job":)", false).error.empty());
  CHECK_FALSE(check(op, R"({"job":{"id":"x","name":"x")", false).job_matches);
  CHECK(check(op, R"({"templateInfo":{}})", false).error ==
        R"(the 200 answer has no readable "job" object)");
  CHECK(check(op, R"([1])", false).error == "the 200 answer is not a JSON object");
}

// A PATCH answer whose job object names two ids was recorded ok and verified by the last
// one: the document is not the server's word on either job, so it is no job document.
TEST_CASE("response_parser: a key twice in the job object is no job document") {
  auto op = make_op(op_kind::configs, R"({"taskTimeout":600})");
  auto v = check(op,
                 R"({"job":{"id":"job-2","config":{"taskTimeout":5},"id":"job-1",)"
                 R"("config":{"taskTimeout":600}}})",
                 false);
  CHECK(v.error == R"(the answer has a duplicate key "id" (in job))");
  CHECK_FALSE(v.job_matches);
  CHECK_FALSE(v.verified);
  // The parser reads the next answer as before.
  CHECK(check(op, answer("job-1", R"({"taskTimeout":600})")).verified);
}

TEST_CASE("response_parser: a second job object, or any key twice at the top level, is refused") {
  auto op = make_op(op_kind::jobname, R"("n")");
  CHECK(check(op, R"({"job":{"id":"job-2","name":"x"},"job":{"id":"job-1","name":"n"}})", false)
            .error == R"(the answer has a duplicate key "job" (at the top level))");
  CHECK(check(op, R"({"ok":true,"job":{"id":"job-1","name":"n"},"ok":false})", false).error ==
        R"(the answer has a duplicate key "ok" (at the top level))");
}

TEST_CASE("response_parser: a key twice in any object inside the job, at any depth, is refused") {
  auto op = make_op(op_kind::params, R"({"app":{"x":{"y":{"n":1}}}})");
  CHECK(check(op, R"({"job":{"id":"job-1","params":{"app":{"x":{"y":{"n":2,"n":1}}}}}})", false)
            .error == R"(the answer has a duplicate key "n" (in job.params.app.x.y))");
  // In a field that is not compared with the update (read past unread).
  CHECK(check(op,
              R"({"job":{"id":"job-1","params":{"app":{"x":{"y":{"n":1}}}},)"
              R"("dataSource":{"params":{"list":[{"k":1,"k":1}]}}}})",
              false)
            .error == R"(the answer has a duplicate key "k" (in job.dataSource.params.list[0]))");
}

TEST_CASE("response_parser: keys are compared as unescaped") {
  auto op = make_op(op_kind::jobname, R"("n")");
  CHECK(check(op, R"({"job":{"id":"job-2","name":"n","\u0069\u0064":"job-1"}})", false).error ==
        R"(the answer has a duplicate key "id" (in job))");
  CHECK(check(op, R"({"job":{"id":"job-1","name":"n","\u006aob":{}}})").verified); // one "job"
  CHECK(check(op, R"({"\u006aob":{"id":"job-2"},"job":{"id":"job-1","name":"n"}})", false).error ==
        R"(the answer has a duplicate key "job" (at the top level))");
}

TEST_CASE("response_parser: one key in different objects is no duplicate") {
  auto op = make_op(op_kind::params, R"({"preset":"p","app":{"name":"a"}})");
  auto v = check(op, R"({"id":"top","job":{"id":"job-1","name":"n","params":{"preset":"p",)"
                     R"("app":{"name":"a","id":"i","x":{"name":1,"x":{}}}},"list":[{"id":1},)"
                     R"({"id":1}]},"templateInfo":{"id":"t","name":"n"}})");
  CHECK(v.job_matches);
  CHECK(v.verified);
  // The mock's own answer.
  CHECK(check(op, answer("job-1")).job_matches);
}

TEST_CASE("response_parser: an answer nested deeper than 1024 levels is no job document") {
  auto op = make_op(op_kind::jobname, R"("n")");
  auto nested = [](std::size_t levels) {
    return R"({"job":{"id":"job-1","name":"n","x":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}}";
  };
  CHECK(check(op, nested(1000)).verified);
  CHECK(check(op, nested(1'000'000), false).error ==
        R"(the 200 answer has no readable "job" object)");
}

TEST_CASE("response_parser: error texts of both error shapes and of non-JSON bodies") {
  response_parser parser;
  CHECK(shown_error(parser, R"({"code":5,"message":"job not found","details":[]})") ==
        "job not found");
  CHECK(
      shown_error(
          parser,
          R"({"ok":false,"message":"outer","error":{"code":"E1","message":"inner","description":"more"}})") ==
      "inner: more");
  CHECK(shown_error(parser, R"({"ok":false,"message":"only outer"})") == "only outer");
  CHECK(shown_error(parser, "upstream connect error\r\nreset") == "upstream connect error  reset");
  CHECK(shown_error(parser, "") == "");
  CHECK(shown_error(parser, std::string(1000, 'x')).size() == 203);
}

TEST_CASE("response_parser: access token, expiresIn as string or number") {
  response_parser parser;
  std::string error;
  auto t = parser.parse_access_token(R"({"token":"abc.def","expiresIn":"3600","refreshToken":"r"})",
                                     0, error);
  REQUIRE(t);
  CHECK(t->token == "abc.def");
  CHECK(t->expires_in == std::chrono::seconds(3600));
  auto n = parser.parse_access_token(R"({"token":"t","expiresIn":60})", 0, error);
  REQUIRE(n);
  CHECK(n->expires_in == std::chrono::seconds(60));
  CHECK_FALSE(parser.parse_access_token(R"({"token":"a\r\nX-Injected: 1"})", 0, error));
  CHECK(error.find("not allowed in a header") != std::string::npos);
  CHECK_FALSE(parser.parse_access_token(R"({"expiresIn":"3600"})", 0, error));
  CHECK(error == R"(the token answer has no "token")");
  CHECK_FALSE(parser.parse_access_token("nope", 0, error));
}

TEST_CASE("response_parser: a token over max_token_bytes is refused by its size, not copied") {
  response_parser parser;
  std::string error;
  auto body = [](std::size_t size) {
    return R"({"token":")" + std::string(size, 't') + R"(","expiresIn":3600})";
  };
  auto at_limit = parser.parse_access_token(body(max_token_bytes), 0, error);
  REQUIRE(at_limit);
  CHECK(at_limit->token.size() == max_token_bytes);
  CHECK(at_limit->refused_bytes == 0);
  auto over = parser.parse_access_token(body(max_token_bytes + 1), 0, error);
  REQUIRE(over);
  CHECK(over->token.empty());
  CHECK(over->token.capacity() < 64); // never held
  CHECK(over->refused_bytes == max_token_bytes + 1);
  // The last token key wins, as for tokens within the limit.
  auto later = parser.parse_access_token(R"({"token":")" + std::string(max_token_bytes + 1, 't') +
                                             R"(","access_token":"small"})",
                                         0, error);
  REQUIRE(later);
  CHECK(later->token == "small");
  CHECK(later->refused_bytes == 0);
}
