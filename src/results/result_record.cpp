#include <jobpatch/results/result_record.hpp>

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/text/json_text.hpp>

#include <array>
#include <random>

namespace jobpatch {
std::string make_run_id() {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device entropy; // getrandom(2): two runs started together still differ
  std::uint64_t v = (std::uint64_t{entropy()} << 32) ^ entropy();
  std::string out;
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(hex[(v >> shift) & 0xF]);
  return out;
}

result_record invalid_record(const invalid_line& bad) {
  result_record r;
  r.line = bad.line;
  r.job_id = bad.job_id;
  r.op = bad.op;
  r.result = outcome::invalid;
  r.error = bad.message;
  return r;
}

void append_record_start(std::string& out, std::uint64_t line, std::string_view job_id,
                         std::optional<op_kind> op) {
  out += "{\"line\":";
  append_uint(out, line);
  if (!job_id.empty()) {
    out += ",\"jobId\":";
    append_json_string(out, job_id);
  }
  if (op) {
    out += ",\"op\":\"";
    out += to_string(*op);
    out += '"';
  }
}

namespace {

// `text` as a JSON string, cut by excerpt() when over `max` bytes: a server's 2 MB `state`
// must not make a record --resume cannot read back. (No copy when it fits.)
void append_cut_json_string(std::string& out, std::string_view text, std::size_t max) {
  if (text.size() <= max)
    append_json_string(out, text);
  else
    append_json_string(out, excerpt(text, max));
}

} // namespace

void append_ndjson(std::string& out, const result_record& r) {
  static constexpr char hex[] = "0123456789abcdef";
  append_record_start(out, r.line, r.job_id, r.op);
  if (r.seq != 0) {
    out += ",\"seq\":";
    append_uint(out, r.seq);
  }
  out += ",\"outcome\":\"";
  out += to_string(r.result);
  out += '"';
  if (r.in_doubt) out += ",\"inDoubt\":true";
  if (r.status != 0) {
    out += ",\"status\":";
    append_int(out, r.status);
  }
  if (r.attempts != 0) {
    out += ",\"attempts\":";
    append_uint(out, r.attempts);
  }
  if (r.latency_ms >= 0) {
    out += ",\"latencyMs\":";
    append_fixed(out, r.latency_ms, 3);
  }
  if (r.verified) out += *r.verified ? ",\"verified\":true" : ",\"verified\":false";
  if (!r.state.empty()) {
    out += ",\"state\":";
    append_cut_json_string(out, r.state, max_state_bytes);
  }
  if (!r.error.empty()) {
    out += ",\"error\":";
    append_cut_json_string(out, r.error, max_error_bytes);
  }
  if (r.fingerprint) {
    out += ",\"fp\":\"";
    for (int shift = 60; shift >= 0; shift -= 4)
      out.push_back(hex[(*r.fingerprint >> shift) & 0xF]);
    out += '"';
  }
  if (!r.ts.empty()) {
    out += ",\"ts\":\"";
    out += r.ts; // our own digits: nothing to escape
    out += '"';
  }
  if (!r.run_id.empty()) {
    out += ",\"runId\":\"";
    out += r.run_id;
    out += '"';
  }
  out += "}\n";
}

} // namespace jobpatch
