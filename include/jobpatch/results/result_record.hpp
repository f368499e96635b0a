#pragma once
// The per-line outcome record of the results file (NDJSON, one record per manifest line).

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/run/outcome.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

// The longest results record jobpatch reads back (--resume, merge). The writer keeps every
// record well below it: server text in a record is cut (max_state_bytes, max_error_bytes,
// "..." marking the cut, see excerpt()) and a job id is at most 1024 bytes (line_validator), so
// whatever a server answers, --resume reads every record a run wrote.
inline constexpr std::size_t max_record_bytes = std::size_t{1} << 20;
// `state` and `error` as recorded, at most (bytes of text, before JSON escaping).
inline constexpr std::size_t max_state_bytes = 256;
inline constexpr std::size_t max_error_bytes = 4096;

// One results record. Fields that do not apply are left empty / unset and omitted.
struct result_record {
  std::uint64_t line = 0;
  std::string_view job_id; // omitted when empty
  std::optional<op_kind> op;
  std::uint32_t seq = 0; // which update of its job (operation::seq); 0 = omitted
  jobpatch::outcome result = outcome::ok;
  // "inDoubt": a failed line whose PATCH may have been applied (sent, then no usable
  // answer); omitted when false.
  bool in_doubt = false;
  int status = 0;         // HTTP status of the last attempt; 0 = none
  unsigned attempts = 0;  // 0 = none made
  double latency_ms = -1; // negative = not measured
  std::optional<bool> verified;
  std::string_view state;                   // job state from the response; omitted when empty
  std::string_view error;                   // omitted when empty
  std::optional<std::uint64_t> fingerprint; // "fp", for resume
  std::string_view ts;     // when recorded, RFC 3339 UTC with ms; omitted when empty
  std::string_view run_id; // "runId": the run that recorded it; omitted when empty
};

// 16 random lowercase hex digits naming one run (records, summary, metrics).
std::string make_run_id();

// The record of a line rejected by validation.
result_record invalid_record(const struct invalid_line& bad);

// Appends `r` as one JSON object followed by '\n'. Key order:
// line, jobId, op, seq, outcome, inDoubt, status, attempts, latencyMs, verified, state, error, fp,
// ts, runId.
void append_ndjson(std::string& out, const result_record& r);
// The start every per-line record shares (results, plan): `{"line":N` with "jobId" and
// "op" when known; the caller adds the rest and the closing brace.
void append_record_start(std::string& out, std::uint64_t line, std::string_view job_id,
                         std::optional<op_kind> op);

} // namespace jobpatch
