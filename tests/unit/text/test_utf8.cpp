// One UTF-8 judgement everywhere: the same byte sequences through the validator itself and
// through each of its users (JSON text, server text shown to a person, manifest jobIds),
// which before disagreed (one accepted overlong forms and surrogates).

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/utf8.hpp>
#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace jobpatch;

namespace {

struct utf8_case {
  const char* name;
  std::string bytes;
  bool valid;
};

const utf8_case cases[] = {
    {"2 bytes: e acute", "\xC3\xA9", true},
    {"3 bytes: euro sign", "\xE2\x82\xAC", true},
    {"4 bytes: G clef", "\xF0\x9D\x84\x9E", true},
    {"U+D7FF, below the surrogates", "\xED\x9F\xBF", true},
    {"U+E000, above the surrogates", "\xEE\x80\x80", true},
    {"U+10FFFF, the last code point", "\xF4\x8F\xBF\xBF", true},
    {"overlong 2 bytes (C0)", "\xC0\xAF", false},
    {"overlong 2 bytes (C1)", "\xC1\xBF", false},
    {"overlong 3 bytes", "\xE0\x80\xAF", false},
    {"overlong 4 bytes", "\xF0\x80\x80\xAF", false},
    {"high surrogate", "\xED\xA0\x80", false},
    {"low surrogate", "\xED\xBF\xBF", false},
    {"above U+10FFFF (F4 90)", "\xF4\x90\x80\x80", false},
    {"above U+10FFFF (F5)", "\xF5\x80\x80\x80", false},
    {"lone continuation byte", "\x80", false},
    {"truncated 3-byte sequence", "\xE2\x82", false},
    {"truncated 4-byte sequence", "\xF0\x9D\x84", false},
    {"FE", "\xFE", false},
    {"FF", "\xFF", false},
};

bool has_high_byte(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// An error body as an output shows it (no secrets known).
std::string shown_error(response_parser& parser, std::string_view body) {
  return secret_scrubber{}.shown(parser.error_text(body));
}

} // namespace

TEST_CASE("utf8: the validator and every user of it agree on the same inputs") {
  line_validator lines;
  response_parser responses;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(is_valid_utf8(c.bytes) == c.valid);
    CHECK(is_valid_utf8("a" + c.bytes + "z") == c.valid);

    // JSON text (results, summaries): kept as is, or every bad byte becomes U+FFFD.
    std::string json;
    append_json_string(json, "a" + c.bytes + "z");
    if (c.valid) {
      CHECK(json == "\"a" + c.bytes + "z\"");
    } else {
      CHECK_FALSE(has_high_byte(json));
      CHECK(json.find("\\ufffd") != std::string::npos);
    }

    // Server text shown to a person: kept as is, or every bad byte becomes '?'.
    std::string shown = shown_error(responses, "oops " + c.bytes + " end");
    if (c.valid) {
      CHECK(shown == "oops " + c.bytes + " end");
    } else {
      CHECK_FALSE(has_high_byte(shown));
      CHECK(shown.find('?') != std::string::npos);
    }

    // A manifest jobId: accepted as is, or the line is rejected as invalid UTF-8.
    std::string line = R"({"jobId":"a)" + c.bytes + R"(","op":"jobname","body":"n"})";
    operation op;
    bool accepted = lines.validate(line, 0, 1, op);
    CHECK(accepted == c.valid);
    if (c.valid) CHECK(op.job_id == "a" + c.bytes);
    if (!c.valid) CHECK(lines.error().message == "invalid UTF-8");
  }
}

TEST_CASE("utf8: C1 controls are valid UTF-8, yet never shown or accepted in a jobId") {
  const std::string next_line = "\xC2\x85", csi = "\xC2\x9B", nbsp = "\xC2\xA0";
  CHECK(is_valid_utf8(next_line));
  CHECK(is_control_code_point(utf8_code_point(csi, 0, 2)));
  CHECK_FALSE(is_control_code_point(utf8_code_point(nbsp, 0, 2)));
  response_parser responses;
  CHECK(shown_error(responses, "a" + csi + "[2Jb") == "a [2Jb");
  line_validator lines;
  operation op;
  CHECK_FALSE(
      lines.validate(R"({"jobId":"a)" + next_line + R"(","op":"jobname","body":"n"})", 0, 1, op));
  CHECK(lines.error().message.starts_with("jobId must not contain control characters"));
  CHECK(lines.validate(R"({"jobId":"a)" + nbsp + R"(","op":"jobname","body":"n"})", 0, 1, op));
}

TEST_CASE("utf8: columns count code points, and a stray byte as one") {
  CHECK(utf8_columns("") == 0);
  CHECK(utf8_columns("ms") == 2);
  CHECK(utf8_columns("µs") == 2);
  CHECK(utf8_columns("9 →") == 3);
  CHECK(utf8_columns("\xC3") == 1);
  CHECK(utf8_columns("a\xFF\xFE"
                     "b") == 4);
}

TEST_CASE("utf8: bidirectional and invisible format controls are unsafe on a terminal") {
  for (char32_t c : {U'\u200B', U'\u200F', U'\u202A', U'\u202E', U'\u2060', U'\u2066', U'\u2069',
                     U'\uFEFF', U'\x1B', U'\x9B'}) {
    CAPTURE(static_cast<unsigned>(c));
    CHECK(is_unsafe_on_terminal(c));
  }
  // Their neighbours are text: a hyphen, a narrow no-break space, Arabic letters, an
  // ellipsis.
  for (char32_t c :
       {U'\u2010', U'\u202F', U'\u2029', U'\u2070', U'\u0627', U'\u2026', U'\uFEFE', U'\u200A'}) {
    CAPTURE(static_cast<unsigned>(c));
    CHECK_FALSE(is_unsafe_on_terminal(c));
  }
  // Server text on stderr: each becomes a space.
  response_parser responses;
  CHECK(shown_error(responses, "before\xE2\x80\xAE"
                               "after") == "before after");
}
