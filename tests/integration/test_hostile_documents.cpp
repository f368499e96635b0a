// Issue 24, round two: what a hostile server's text and documents may hold. Item 2: a
// secret cut in half by an excerpt, or spelled with other legal escapes (JSON's "\/" and
// "\u002d", percent-encoding in either case). Item 4: a secret in a field an undo line
// would keep. Item 5: duplicate keys in a document. Each of these fails on the engine
// before its fix. Item 6: a 1.9 MB state in every answer, which passes since 7ba7c01
// (records cut server text) and fails with that change taken out.

#include "apply_runner.hpp"
#include "hostile_server.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Both secrets hold '/' and '-', which JSON may escape ("\/", "\u002d") and a URL may
// percent-encode ("%2F"), and are long enough to leave 12-byte fragments when cut.
const std::string api_key = "k3y/5f1e-9c2d/ab-77e4-0a9f/d1";
const std::string token = "tok/4d2a-91be/c0-88f3-7b1e/5a";
const std::string token_answer = R"({"token":")" + token + R"(","expiresIn":3600})";

// ---- spellings of a secret, and reading them back ----

std::string json_escaped(std::string_view s, bool slash) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || (slash && c == '/')) {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// `s` with each byte `escape` picks spelled `prefix` and two hex digits ("\\u00" + "2f",
// "%" + "2F").
template <class Pick>
std::string hex_escaped(std::string_view s, std::string_view prefix, bool upper, Pick escape) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!escape(c)) {
      out += c;
      continue;
    }
    out += prefix;
    out += hex[u >> 4];
    out += hex[u & 15];
  }
  return out;
}

// `s` with each byte that `which` holds written \u00XX, in upper- or lower-case hex.
std::string u_escaped(std::string_view s, std::string_view which, bool upper) {
  return hex_escaped(s, "\\u00", upper,
                     [&](char c) { return which.find(c) != std::string_view::npos; });
}

// Percent-encoded: the bytes outside RFC 3986's unreserved set, or every byte.
std::string percent_encoded(std::string_view s, bool upper, bool every_byte) {
  return hex_escaped(s, "%", upper, [&](char c) {
    bool unreserved =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
    return every_byte || !unreserved;
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Every JSON escape in `text` undone, wherever it stands (in a string or not); what is not
// a valid escape is kept as is.
std::string json_unescaped(std::string_view text) {
  auto hex4 = [&](std::size_t at) -> long {
    if (at + 4 > text.size()) return -1;
    long v = 0;
    for (std::size_t i = at; i < at + 4; ++i) {
      int d = hex_value(text[i]);
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char e = text[i + 1];
    static constexpr std::string_view simple = "\"\\/bfnrt", meaning = "\"\\/\b\f\n\r\t";
    if (auto k = simple.find(e); k != std::string_view::npos) {
      out += meaning[k];
      ++i;
      continue;
    }
    long cp = e == 'u' ? hex4(i + 2) : -1;
    if (cp < 0) {
      out += text[i];
      continue;
    }
    i += 5;
    if (cp >= 0xD800 && cp < 0xDC00 && text.substr(i + 1, 2) == "\\u") {
      long low = hex4(i + 3);
      if (low >= 0xDC00 && low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
    }
    append_utf8(out, static_cast<std::uint32_t>(cp));
  }
  return out;
}

// Every %XX in `text` decoded (either case of hex).
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (text[i] == '%' && high >= 0 && low >= 0) {
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// What of `secret` `output` shows, or "" when nothing: a 12-byte window of it raw, JSON-
// escaped ('/' as is or as "\/"), percent-encoded (upper or lower hex, the reserved bytes
// or every byte), or raw in `output` decoded (JSON escapes undone, %XX decoded, each of
// them up to three times over: a record's JSON string of a server's JSON text).
std::string leaks(const std::string& output, const std::string& secret) {
  constexpr std::size_t window = 12;
  std::vector<std::pair<std::string, std::string>> readings = {{"as written", output}};
  readings.emplace_back("percent-decoded", percent_decoded(output));
  std::string decoded = output;
  for (int round = 1; round <= 3; ++round) {
    decoded = json_unescaped(decoded);
    readings.emplace_back("JSON-unescaped x" + std::to_string(round), decoded);
    decoded = percent_decoded(decoded);
    readings.emplace_back("JSON-unescaped and percent-decoded x" + std::to_string(round), decoded);
  }
  for (std::size_t at = 0; at + window <= secret.size(); ++at) {
    std::string w = secret.substr(at, window);
    std::vector<std::pair<std::string, std::string>> spellings = {
        {"raw", w},
        {"JSON-escaped", json_escaped(w, false)},
        {"JSON-escaped with \\/", json_escaped(w, true)},
        {"percent-encoded, upper hex", percent_encoded(w, true, false)},
        {"percent-encoded, lower hex", percent_encoded(w, false, false)},
        {"percent-encoded every byte, upper hex", percent_encoded(w, true, true)},
        {"percent-encoded every byte, lower hex", percent_encoded(w, false, true)}};
    for (const auto& [reading, text] : readings)
      for (const auto& [spelling, form] : spellings) {
        auto found = text.find(form);
        if (found == std::string::npos) continue;
        auto from = found < 60 ? 0 : found - 60;
        return "\"" + w + "\" " + spelling + ", in the output " + reading + ": ..." +
               text.substr(from, found - from + form.size() + 20) + "...";
      }
  }
  return {};
}

// ---- runs ----

// Every file in `dir` (the run's outputs: stdout, stderr, results, summary, metrics,
// failed lines, plan, undo file; and the inputs, which hold no secret), one after another.
std::string everything(const temp_dir& dir) {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path(".")))
    if (entry.is_regular_file())
      out += "\n== " + entry.path().filename().string() + "\n" + read_file(entry.path().string());
  return out;
}

// Both secrets' leaks in every output of the run in `dir`, or "".
std::string secrets_shown(const temp_dir& dir) {
  std::string all = everything(dir), out;
  if (auto leak = leaks(all, api_key); !leak.empty()) out += "API key: " + leak + "\n";
  if (auto leak = leaks(all, token); !leak.empty()) out += "access token: " + leak + "\n";
  return out;
}

struct run_result {
  measured_run run;
  std::string out, err;
  std::vector<json::object> records; // apply's results, plan's --output
};

// `jobpatch COMMAND` of `input` (written to m.ndjson) against `server` plus `extra`, the
// API key in the environment; stdout and stderr in dir's "out" and "err".
run_result run_jobpatch(const hostile_server& server, const temp_dir& dir,
                        const std::string& command, const std::string& input,
                        std::vector<std::string> extra, const std::string& records_file) {
  write_file(dir.path("m.ndjson"), input);
  write_file(dir.path("cert.pem"), server.certificate_pem());
  auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), command, dir.path("m.ndjson"),
                            std::move(extra));
  run_result r;
  r.run =
      run_measured(argv, {{"BYTENITE_API_KEY", api_key}}, dir.path("out"), dir.path("err"), 60s);
  r.out = read_file(dir.path("out"));
  r.err = read_file(dir.path("err"));
  for (const auto& line : read_lines(dir.path(records_file)))
    r.records.push_back(json::parse(line).as_object());
  return r;
}

// `jobpatch apply` with every output it has: results, summary, metrics, failed lines, the
// progress line; plus `extra`.
run_result apply_to(const hostile_server& server, const temp_dir& dir, const std::string& manifest,
                    std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"--results", dir.path("r.ndjson"), "--summary-json",
                               dir.path("s.json"), "--metrics-file", dir.path("metrics.prom"),
                               "--failed-out", dir.path("failed.ndjson"), "--progress", "always"});
  return run_jobpatch(server, dir, "apply", manifest, std::move(extra), "r.ndjson");
}

std::string line_of(const std::string& job, const std::string& op, const std::string& body) {
  return R"({"jobId":")" + job + R"(","op":")" + op + R"(","body":)" + body + "}\n";
}

std::string text_of(const json::object& record, std::string_view key) {
  const auto* value = record.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

bool flag_of(const json::object& record, std::string_view key) {
  const auto* value = record.if_contains(key);
  return value && value->is_bool() && value->get_bool();
}

// The PATCHes the server read for `job`.
std::size_t patches_of(const hostile_server& server, const std::string& job) {
  std::size_t n = 0;
  for (const auto& request : server.requests())
    if (request.starts_with("PATCH ") && request.find("/jobs/" + job + "/") != std::string::npos)
      ++n;
  return n;
}

// `marker`, then filler, then `secret` placed so that its first 20 bytes come before byte
// `cut` of the whole and the rest after it, then a tail.
std::string straddling(const std::string& marker, std::size_t cut, const std::string& secret) {
  std::string out = marker;
  out += std::string(cut - 20 - marker.size(), '.');
  out += secret;
  out += " (sent by the client)";
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

TEST_CASE("hostile documents: the leak check finds every spelling and nothing else") {
  const std::string clean = R"({"error":"HTTP 403: [redacted] k3y/5f1e-9c"})";
  CHECK(leaks(clean, api_key) == ""); // 11 bytes of it: no 12-byte window
  for (const std::string& shown :
       {api_key, std::string("ab-77e4-0a9f/"), json_escaped(api_key, true),
        u_escaped(api_key, "-", false), u_escaped(api_key, "-/k", true),
        percent_encoded(api_key, false, false), percent_encoded(api_key, true, true),
        json_escaped(percent_encoded(api_key, false, true), true),
        json_escaped(json_escaped(api_key, true), false)}) {
    CAPTURE(shown);
    CHECK(leaks("text " + shown + " text", api_key) != "");
  }
}

// Item 2: server text is cut to its excerpt (200 bytes of a plain-text body, 500 of a JSON
// message) before it is scrubbed, so a secret straddling the cut no longer matches and its
// first bytes are printed.
namespace {
// One PATCH answered `status` with `body` (which holds `marker` and a secret): the line
// fails, its recorded error shows the server's text, and no output holds the secret.
void check_patch_answer_scrubbed(int status, const std::string& body, const std::string& marker) {
  hostile_server server({.mode = hostile_mode::scripted,
                         .token_body = token_answer,
                         .answer_status = status,
                         .answer_body = body});
  temp_dir dir;
  auto r = apply_to(server, dir, line_of("job-1", "jobname", R"("a")"), {"--max-attempts", "1"});
  INFO(r.err);
  CHECK(r.run.code == 1);
  REQUIRE(r.records.size() == 1);
  std::string error = text_of(r.records[0], "error");
  INFO("recorded error: " << error);
  CHECK(error.find(marker) != std::string::npos); // the server's text did arrive
  CHECK(secrets_shown(dir) == "");
}
} // namespace

TEST_CASE("hostile documents: a secret straddling the cut of a PATCH error's excerpt reaches "
          "no output") {
  struct variant {
    std::string name;
    int status;
    std::string body;
  };
  const std::string marker = "refused-by-policy: you sent ";
  const std::vector<variant> variants = {
      {"a plain-text 403, the key across byte 200", 403, straddling(marker, 200, api_key)},
      {"a plain-text 400, the token across byte 200", 400, straddling(marker, 200, token)},
      {"a JSON 403 message, the key across byte 500", 403,
       R"({"code":7,"message":")" + straddling(marker, 500, api_key) + R"("})"},
      {"a JSON 400 error.message, the token across byte 500", 400,
       R"({"error":{"code":400,"message":")" + straddling(marker, 500, token) + R"("}})"},
  };
  for (const auto& v : variants) {
    CAPTURE(v.name);
    check_patch_answer_scrubbed(v.status, v.body, marker);
  }
}

TEST_CASE("hostile documents: a token endpoint's 401 with the key across its excerpt's cut "
          "reaches no output") {
  const std::string marker = "invalid-credentials: you sent ";
  for (const std::string& body :
       {R"({"code":16,"message":")" + straddling(marker, 500, api_key) + R"("})",
        straddling(marker, 200, api_key)}) {
    CAPTURE(body);
    hostile_server server(
        {.mode = hostile_mode::ok, .token_statuses = {401}, .token_error_body = body});
    temp_dir dir;
    auto r = apply_to(server, dir, line_of("job-1", "jobname", R"("a")"));
    INFO(r.err);
    CHECK(r.run.code == 3);
    CHECK(server.applied().empty());
    CHECK(r.err.find(marker) != std::string::npos); // the server's text did arrive
    auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
    INFO("abortReason: " << text_of(summary, "abortReason"));
    CHECK(text_of(summary, "abortReason").find(marker) != std::string::npos);
    CHECK(secrets_shown(dir) == "");
  }
}

// Item 2: a server may escape any character of a JSON string ("\/", "\u002d", "\u0041"):
// a job's object-valued field is shown by plan as the server's compact JSON, escapes and
// all, and the scrubber looked for the plain spellings only.
TEST_CASE("hostile documents: plan shows no secret that a job's document spells with JSON "
          "escapes") {
  auto document = [](const std::string& job, const std::string& fields) {
    return R"({"job":{"id":")" + job + R"(","name":"n","state":"JOB_STATE_NEW",)" + fields + "}}";
  };
  auto source = [](const std::string& url) {
    return R"({"dataSourceDescriptor":"url","params":{"url":")" + url + R"("}})";
  };
  hostile_server server(
      {.mode = hostile_mode::stateful_ok,
       .token_body = token_answer,
       .documents = {
           {"job-1", document("job-1", R"("params":{"app":{"note":")" +
                                           json_escaped(api_key, true) + R"("}})")},
           {"job-2", document("job-2", R"("dataSource":)" +
                                           source("https://h/" + u_escaped(api_key, "-", false)))},
           {"job-3", document("job-3", R"("params":{"app":{"note":")" +
                                           u_escaped(api_key, "-/k", true) + R"("}})")},
           {"job-4", document("job-4", R"("dataSource":)" +
                                           source("https://h/" + json_escaped(token, true)))},
       }});
  temp_dir dir;
  std::string plan =
      line_of("job-1", "params", R"({"app":{"note":"new"}})") +
      line_of("job-2", "datasource", R"({"dataSource":)" + source("https://h/new") + "}") +
      line_of("job-3", "params", R"({"app":{"note":"new"}})") +
      line_of("job-4", "datasource", R"({"dataSource":)" + source("https://h/new") + "}");
  auto r = run_jobpatch(server, dir, "plan", plan, {"--output", dir.path("p.ndjson")}, "p.ndjson");
  INFO(r.err);
  INFO("plan shown:\n" << r.out);
  CHECK(r.run.code == 0);
  // Each line's change was read and shown: the documents did arrive.
  REQUIRE(r.records.size() == 4);
  for (const auto& record : r.records) CHECK(text_of(record, "outcome") == "change");
  for (const std::string shown : {"job-1 params.app", "job-2 datasource.dataSource",
                                  "job-3 params.app", "job-4 datasource.dataSource"})
    CHECK(r.out.find(shown) != std::string::npos);
  CHECK(server.applied().empty());
  // Line by line first, so that each spelling's leak is told apart, then everything.
  for (const auto& file : {"out", "p.ndjson"})
    for (const auto& line : read_lines(dir.path(file))) {
      CAPTURE(line);
      CHECK(leaks(line, api_key) == "");
      CHECK(leaks(line, token) == "");
    }
  CHECK(secrets_shown(dir) == "");
}

// Item 2: percent-encoded in lower-case hex, or every byte encoded, the key or the token is
// not the spelling the scrubber knew (upper-case hex of the reserved bytes only).
TEST_CASE("hostile documents: a secret percent-encoded in a PATCH error reaches no output") {
  struct variant {
    std::string name, secret;
  };
  const std::vector<variant> variants = {
      {"the key, lower hex", percent_encoded(api_key, false, false)},
      {"the key, every byte, upper hex", percent_encoded(api_key, true, true)},
      {"the key, every byte, lower hex", percent_encoded(api_key, false, true)},
      {"the token, lower hex", percent_encoded(token, false, false)},
      {"the key, upper hex (the spelling scrubbed before)", percent_encoded(api_key, true, false)},
  };
  const std::string marker = "forbidden: GET /v1/customer/jobs?apiKey=";
  for (const auto& v : variants) {
    for (bool as_json : {false, true}) {
      CAPTURE(v.name);
      CAPTURE(as_json);
      std::string text = marker + v.secret + "&page=2";
      check_patch_answer_scrubbed(403, as_json ? R"({"code":7,"message":")" + text + R"("})" : text,
                                  marker);
    }
  }
}

// Item 4: the undo file keeps a job's old values as read, to restore them; a server that
// echoes the key or the token into a field would have it written there, in plain text,
// before the PATCH leaves. Such a line is not sent: it fails, saying why.
TEST_CASE("hostile documents: a line whose undo line would hold a secret is not sent") {
  auto document = [](const std::string& job, const std::string& fields) {
    return R"({"job":{"id":")" + job + R"(","state":"JOB_STATE_NEW",)" + fields + "}}";
  };
  const std::string source =
      R"({"dataSourceDescriptor":"url","params":{"url":"https://h/)" + api_key + R"("}})";
  hostile_server server(
      {.mode = hostile_mode::stateful_ok,
       .token_body = token_answer,
       .documents = {
           {"job-key-name", document("job-key-name", R"("name":"owner )" + api_key + "\"")},
           {"job-token-app", document("job-token-app", R"("name":"n","params":{"app":{"auth":")" +
                                                           token + R"("}})")},
           {"job-key-source", document("job-key-source", R"("name":"n","dataSource":)" + source)},
       }});
  temp_dir dir;
  const std::vector<std::string> secret_jobs = {"job-key-name", "job-token-app", "job-key-source"};
  std::string manifest =
      line_of("job-ok-1", "jobname", R"("after-1")") +
      line_of("job-key-name", "jobname", R"("renamed")") +
      line_of("job-token-app", "params", R"({"app":{"auth":"none"}})") +
      line_of("job-key-source", "datasource",
              R"({"dataSource":{"dataSourceDescriptor":"url","params":{"url":"https://h/new"}}})") +
      line_of("job-ok-2", "jobname", R"("after-2")");
  auto r =
      apply_to(server, dir, manifest, {"--undo-out", dir.path("u.ndjson"), "--max-attempts", "1"});
  INFO(r.err);
  INFO("undo file:\n" << read_file(dir.path("u.ndjson")));
  CHECK(r.run.code == 1);
  REQUIRE(r.records.size() == 5);
  for (const auto& record : r.records) {
    std::string job = text_of(record, "jobId"), error = text_of(record, "error");
    CAPTURE(job);
    CAPTURE(error);
    if (job.starts_with("job-ok-")) {
      CHECK(text_of(record, "outcome") == "ok");
      continue;
    }
    CHECK(text_of(record, "outcome") == "failed");
    CHECK(lower(error).find("secret") != std::string::npos); // it says why
    CHECK(patches_of(server, job) == 0);                     // and nothing was sent
  }
  // The other jobs went on: sent, their undo lines written.
  CHECK(patches_of(server, "job-ok-1") == 1);
  CHECK(patches_of(server, "job-ok-2") == 1);
  std::string undo = read_file(dir.path("u.ndjson"));
  CHECK(undo.find(R"("before job-ok-1")") != std::string::npos);
  CHECK(undo.find(R"("before job-ok-2")") != std::string::npos);
  for (const auto& job : secret_jobs) CHECK(undo.find("\"" + job + "\"") == std::string::npos);
  CHECK(leaks(undo, api_key) == "");
  CHECK(leaks(undo, token) == "");
  CHECK(secrets_shown(dir) == "");
}

// Item 5: a JSON object with a key twice means whatever the reader makes of it; ours kept
// the last "id", and the values before it belonged to another job. A read of the job
// whose document names it twice is no document to undo with.
TEST_CASE("hostile documents: a job document with two ids is not read as the job's") {
  hostile_server server(
      {.mode = hostile_mode::stateful_ok,
       .token_body = token_answer,
       .documents = {{"job-1", R"({"job":{"id":"other-job","name":"name of other-job",)"
                               R"("state":"JOB_STATE_NEW","id":"job-1"}})"}}});
  temp_dir dir;
  auto r = apply_to(server, dir,
                    line_of("job-1", "jobname", R"("after-1")") +
                        line_of("job-2", "jobname", R"("after-2")"),
                    {"--undo-out", dir.path("u.ndjson"), "--max-attempts", "1"});
  INFO(r.err);
  std::string undo = read_file(dir.path("u.ndjson"));
  INFO("undo file:\n" << undo);
  CHECK(r.run.code == 1);
  CHECK(patches_of(server, "job-1") == 0);
  CHECK(undo.find("name of other-job") == std::string::npos);
  CHECK(undo.find(R"("before job-2")") != std::string::npos);
  REQUIRE(r.records.size() == 2);
  for (const auto& record : r.records) {
    CAPTURE(json::serialize(record));
    if (text_of(record, "jobId") == "job-1") {
      CHECK(text_of(record, "outcome") == "failed");
      CHECK(!text_of(record, "error").empty());
    } else {
      CHECK(text_of(record, "outcome") == "ok");
    }
  }
}

// Item 5: a PATCH's answer with a key twice cannot verify the PATCH, whichever copy a
// reader takes; with two ids it may be another job's document: the PATCH was sent, so the
// line is in doubt.
TEST_CASE("hostile documents: a PATCH answer with a duplicate key is never recorded verified") {
  struct variant {
    std::string name, op, body, answer;
    bool in_doubt; // two ids: in doubt; a duplicate nested key: at least unverified
  };
  const std::vector<variant> variants = {
      {"two ids, another job's first", "jobname", R"("after")",
       R"({"job":{"id":"other-job","id":"@job@","name":@body@,"state":"JOB_STATE_NEW"}})", true},
      {"two ids, this job's first", "jobname", R"("after")",
       R"({"job":{"id":"@job@","id":"other-job","name":@body@,"state":"JOB_STATE_NEW"}})", true},
      {"params.app twice, the sent value first", "params", R"({"app":{"v":"sent"}})",
       R"({"job":{"id":"@job@","params":{"app":{"v":"sent"},"app":{"v":"other"}}}})", false},
      {"params.app.v twice, the sent value first", "params", R"({"app":{"v":"sent"}})",
       R"({"job":{"id":"@job@","params":{"app":{"v":"sent","v":"other"}}}})", false},
  };
  for (const auto& v : variants) {
    CAPTURE(v.name);
    hostile_server server({.mode = hostile_mode::scripted,
                           .token_body = token_answer,
                           .answer_status = 200,
                           .answer_body = v.answer});
    temp_dir dir;
    auto r = apply_to(server, dir, line_of("job-1", v.op, v.body),
                      {"--max-attempts", "1", "--settle", "0.1"});
    INFO(r.err);
    REQUIRE(r.records.size() == 1);
    const auto& record = r.records[0];
    CAPTURE(json::serialize(record));
    CHECK(patches_of(server, "job-1") == 1);
    CHECK(!(text_of(record, "outcome") == "ok" && flag_of(record, "verified")));
    if (v.in_doubt) {
      CHECK(r.run.code == 1);
      CHECK(text_of(record, "outcome") == "failed");
      CHECK(flag_of(record, "inDoubt"));
    }
  }
}

// Item 6: a 1.9 MB state in every answer made 1.5 MB records, which --resume skipped as
// not jobpatch's and sent their lines again.
TEST_CASE("hostile documents: a 1.9 MB state in every answer is cut in the records, and "
          "--resume sends nothing again") {
  const std::string state = "JOB_STATE_" + std::string(1'900'000, 'S');
  hostile_server server(
      {.mode = hostile_mode::stateful_ok, .token_body = token_answer, .job_state = state});
  temp_dir dir;
  std::string manifest;
  for (int i = 0; i < 40; ++i)
    manifest += line_of("job-" + std::to_string(i), "jobname", "\"n" + std::to_string(i) + "\"");
  // The default 16 connections: one parser for all of them and bodies given back once
  // judged keep the peak under 64 MB (it was 126 MB with a parser and a body held per
  // connection).
  const std::vector<std::string> args = {};
  auto r = apply_to(server, dir, manifest, args);
  INFO(r.err);
  MESSAGE("40 answers with a 1.9 MB state: exit "
          << r.run.code << ", peak RSS " << r.run.peak_rss_kb / 1024 << " MB, " << r.run.seconds
          << " s");
  CHECK(r.run.code == 0);
  REQUIRE(server.applied().size() == 40);
  REQUIRE(r.records.size() == 40);
  for (const auto& line : read_lines(dir.path("r.ndjson"))) CHECK(line.size() < 64 * 1024);
  for (const auto& record : r.records) {
    std::string shown = text_of(record, "state");
    CAPTURE(shown.size());
    CHECK(text_of(record, "outcome") == "ok");
    CHECK(shown.starts_with("JOB_STATE_SSS"));
    CHECK(shown.size() <= 256 + 3); // 256 bytes and the cut's mark
  }
  CHECK(std::filesystem::file_size(dir.path("r.ndjson")) < 1'000'000);
#if !defined(__SANITIZE_ADDRESS__) // ASan's quarantine and shadow say nothing of jobpatch
  CHECK(r.run.peak_rss_kb < 64 * 1024);
#endif

  // The same manifest and results again: every line is done already.
  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  auto again = apply_to(server, dir, manifest, resume);
  INFO(again.err);
  CHECK(again.run.code == 0);
  CHECK(server.applied().size() == 40); // nothing sent again
  CHECK(again.err.find("40 lines were recorded ok") != std::string::npos);
  auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
  CHECK(summary.at("skipped").to_number<std::int64_t>() == 40); // every line done already
  CHECK(summary.at("attempts").to_number<std::int64_t>() == 0);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(again.run.peak_rss_kb < 64 * 1024);
#endif
}
