#pragma once
// What `jobpatch plan` says about one manifest line: the text a person reads and the
// NDJSON record of --output, and the sink that writes both and counts the outcomes.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/output_thread.hpp>
#include <jobpatch/wire/job_document.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

class json_writer;

// The plan of one line: it changes something, changes nothing, its job does not exist
// (404), its job could not be read, or the line is invalid.
enum class plan_outcome : std::uint8_t { change, unchanged, not_found, failed, invalid };
inline constexpr std::size_t plan_outcome_count = 5;
std::string_view to_string(plan_outcome o) noexcept;

struct plan_record {
  std::uint64_t line = 0;
  std::string_view job_id;
  std::optional<op_kind> op;
  plan_outcome result = plan_outcome::change;
  int status = 0;         // HTTP status of the last read; 0 = none
  std::string_view error; // not_found, failed, invalid: why
  // change / unchanged: every field the line sets (those that do not change included).
  const std::vector<field_change>* changes = nullptr;
};

// {"line":3,"jobId":"..","op":"configs","outcome":"change","status":200,
//  "changes":[{"field":"configs.taskTimeout","from":300,"to":600}],"error":".."} and '\n'.
// "changes" lists the fields that change; "from" is left out when the job lacks the field.
void append_plan_ndjson(std::string& out, const plan_record& r);

// One line per field that changes: `line 3 job-7 configs.taskTimeout: 300 → 600`; a line
// that changes nothing, a missing job, a failed read or an invalid line get one line each.
// Values longer than `max_value` bytes are cut (with "…"); server text is the caller's
// to scrub.
void append_plan_text(std::string& out, const plan_record& r, std::size_t max_value = 120);

// Where a plan goes: text (stdout, or nowhere) and NDJSON (--output); counts per outcome.
class plan_sink {
public:
  // Empty paths disable that output; "-" is standard output. The files are written by
  // `out`'s thread (its progress() holds the first write error, after which nothing more is
  // written). Throws std::system_error.
  plan_sink(output_thread& out, const std::string& text_path, const std::string& output_path);

  // Appends to the writer thread's buffers: no system call.
  void record(const plan_record& r);

  std::uint64_t count(plan_outcome o) const noexcept {
    return counts_[static_cast<std::size_t>(o)];
  }
  std::uint64_t total() const noexcept;
  // "12 lines: 7 change 9 fields, 3 unchanged, 1 job not found, 1 failed read, 0 invalid"
  std::string totals_text() const;
  // The same totals as a member of a JSON object (the summary JSON's "plan"):
  // "plan":{"total":12,"change":7,"unchanged":3,"notFound":1,"failed":0,"invalid":1,
  // "fieldsChanged":9}
  void totals_json(json_writer& json) const;

private:
  output_thread& out_;
  std::optional<output_thread::file_id> text_, output_;
  std::array<std::uint64_t, plan_outcome_count> counts_{};
  std::uint64_t fields_changed_ = 0;
};

} // namespace jobpatch
