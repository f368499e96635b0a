#include <jobpatch/results/result_record.hpp>
#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/timestamp.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace jobpatch;

TEST_CASE("result_record: full record in SPEC key order") {
  result_record r;
  r.line = 3;
  r.job_id = "job-1";
  r.op = op_kind::configs;
  r.result = outcome::ok;
  r.status = 200;
  r.attempts = 2;
  r.latency_ms = 3.25;
  r.verified = true;
  r.state = "JOB_STATE_NEW";
  std::string out;
  append_ndjson(out, r);
  CHECK(out == R"({"line":3,"jobId":"job-1","op":"configs","outcome":"ok","status":200,)"
               R"("attempts":2,"latencyMs":3.25,"verified":true,"state":"JOB_STATE_NEW"})"
               "\n");
}

TEST_CASE("result_record: fields that do not apply are omitted") {
  result_record r;
  r.line = 9;
  r.result = outcome::invalid;
  r.error = "invalid JSON: unclosed string";
  std::string out;
  append_ndjson(out, r);
  CHECK(out ==
        "{\"line\":9,\"outcome\":\"invalid\",\"error\":\"invalid JSON: unclosed string\"}\n");
}

TEST_CASE("result_record: fingerprint is 16 hex digits") {
  result_record r;
  r.line = 1;
  r.fingerprint = 0x00ab;
  std::string out;
  append_ndjson(out, r);
  CHECK(out.find(R"("fp":"00000000000000ab")") != std::string::npos);
}

TEST_CASE("result_record: outcome names round-trip") {
  for (auto o : {outcome::ok, outcome::failed, outcome::invalid, outcome::skipped})
    CHECK(parse_outcome(to_string(o)) == o);
  CHECK_FALSE(parse_outcome("OK"));
}

TEST_CASE("json_text: strings are escaped and always valid UTF-8") {
  std::string out;
  append_json_string(out, "a\"b\\c\n\t\x01");
  CHECK(out == R"("a\"b\\c\n\t\u0001")");
  out.clear();
  append_json_string(out, "caf\xC3\xA9 \xE2\x82\xAC");
  CHECK(out == "\"caf\xC3\xA9 \xE2\x82\xAC\"");
  out.clear();
  append_json_string(out, "bad\xFF\xC3"); // invalid byte and truncated sequence
  CHECK(out == R"("bad\ufffd\ufffd")");
  out.clear();
  append_json_string(out, "\xED\xA0\x80"); // UTF-16 surrogate encoded in UTF-8
  CHECK(out == R"("\ufffd\ufffd\ufffd")");
}

TEST_CASE("json_text: every control character below U+0020 is escaped, other ASCII is not") {
  for (int c = 0; c < 0x80; ++c) {
    std::string out;
    append_json_string(out, std::string(1, static_cast<char>(c)));
    CAPTURE(c);
    bool escaped = c < 0x20 || c == '"' || c == '\\';
    CHECK((out[1] == '\\') == escaped);
    // RFC 8259 section 7: no raw control character inside a JSON string.
    CHECK(std::none_of(out.begin(), out.end(),
                       [](char x) { return static_cast<unsigned char>(x) < 0x20; }));
  }
}

TEST_CASE("json_text: numbers") {
  std::string out;
  append_uint(out, 18446744073709551615ull);
  out += ' ';
  append_int(out, -42);
  out += ' ';
  append_fixed(out, 3.2, 3);
  out += ' ';
  append_fixed(out, 4.0, 3);
  out += ' ';
  append_fixed(out, 0.0004, 3);
  CHECK(out == "18446744073709551615 -42 3.2 4 0");
}

TEST_CASE("json_text: excerpt cuts on a UTF-8 boundary") {
  CHECK(excerpt("short") == "short");
  CHECK(excerpt(std::string(50, 'a'), 10) == "aaaaaaaaaa...");
  CHECK(excerpt("aaaaaaaaa\xC3\xA9zz", 10) == "aaaaaaaaa...");
}

TEST_CASE("result_record: ts and runId close the record, timestamps are RFC 3339 UTC with ms") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(1796018827123) == "2026-11-30T06:07:07.123Z");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
  result_record r;
  r.line = 1;
  r.seq = 2;
  r.fingerprint = 1;
  r.ts = "2026-11-30T06:07:07.123Z";
  r.run_id = "0123456789abcdef";
  std::string out;
  append_ndjson(out, r);
  CHECK(out == R"({"line":1,"seq":2,"outcome":"ok","fp":"0000000000000001",)"
               R"("ts":"2026-11-30T06:07:07.123Z","runId":"0123456789abcdef"})"
               "\n");
  auto a = make_run_id(), b = make_run_id();
  CHECK(a.size() == 16);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("result_record: server text is cut so that --resume reads every record back") {
  // Issue 24: a 1.9 MB `state` made 1.5 MB records that --resume then ignored.
  std::string state = "S" + std::string(2'000'000, 'x');
  std::string error = "HTTP 400: " + std::string(50'000, 'e');
  result_record r;
  r.line = 1;
  r.job_id = "job-1";
  r.result = outcome::ok;
  r.state = state;
  r.error = error;
  std::string out;
  append_ndjson(out, r);
  CHECK(out.find("\"state\":\"S" + std::string(max_state_bytes - 1, 'x') + "...\"") !=
        std::string::npos);
  CHECK(out.find("\"error\":\"HTTP 400: " + std::string(max_error_bytes - 10, 'e') + "...\"") !=
        std::string::npos);
  // Cut on a UTF-8 boundary: a 3-byte character straddling the limit goes whole.
  std::string accented = std::string(max_state_bytes - 1, 'a') + "\xE2\x82\xAC" + "tail";
  r.state = accented;
  r.error = {};
  out.clear();
  append_ndjson(out, r);
  CHECK(out.find("\"state\":\"" + std::string(max_state_bytes - 1, 'a') + "...\"") !=
        std::string::npos);
  // The worst a record can be: a 1024-byte job id, state and error of characters that
  // JSON escapes six times over; still far below what --resume reads.
  std::string controls(max_error_bytes + 100, '\x01');
  r.job_id = std::string_view(controls).substr(0, 1024);
  r.state = controls;
  r.error = controls;
  out.clear();
  append_ndjson(out, r);
  CHECK(out.size() < max_record_bytes / 16);
}
