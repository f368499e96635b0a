#pragma once
// "Read the job before writing it": a job as GET /v1/customer/jobs/{jobId} answers it,
// reduced to the fields the four PATCHes set; what a manifest line would change in it,
// field by field; and the manifest line that puts back what a line changes. Pure (no
// sockets); simdjson stays in the implementation.

#include <jobpatch/manifest/operation.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

// Every field a PATCH sets, one per body key (jobname sets the whole name).
enum class job_field : std::uint8_t {
  name,             // jobname        <- job.name
  task_timeout,     // configs        <- job.config.taskTimeout (int64)
  job_timeout,      // configs        <- job.config.jobTimeout (int64)
  is_test_job,      // configs        <- job.config.isTestJob
  preset,           // params         <- job.params.preset
  partitioner,      // params         <- job.params.partitioner
  assembler,        // params         <- job.params.assembler
  app,              // params         <- job.params.app
  data_source,      // datasource     <- job.dataSource
  data_destination, // datasource     <- job.dataDestination
};
inline constexpr std::size_t job_field_count = 10;

// The field's name as plans show it, in the manifest's terms: "configs.taskTimeout",
// "params.app", "datasource.dataSource", "jobname".
std::string_view field_label(job_field f) noexcept;
// The key in the op's body ("taskTimeout"); empty for jobname (the body is the value).
std::string_view body_key(job_field f) noexcept;
op_kind op_of(job_field f) noexcept;

// A set of fields, one bit each.
using field_mask = std::uint16_t;
constexpr field_mask bit_of(job_field f) noexcept {
  return static_cast<field_mask>(1u << static_cast<unsigned>(f));
}

// The job's current values of the fields a PATCH sets, each as compact JSON text
// (whitespace removed), or nullopt when the document lacks it (or holds null).
struct job_document {
  std::string id;
  std::string state;
  std::array<std::optional<std::string>, job_field_count> values;

  const std::optional<std::string>& value(job_field f) const noexcept {
    return values[static_cast<std::size_t>(f)];
  }
};

// One field a line sets: its value now and the value the line sets.
struct field_change {
  job_field field = job_field::name;
  std::optional<std::string> from; // compact JSON now; nullopt = absent from the document
  std::string to;                  // compact JSON the line sets
  bool changes = true;             // false when `from` already equals `to` (by value)
};

// True when some field of `changes` would change.
bool any_change(const std::vector<field_change>& changes) noexcept;

// Parses GET answers and compares them with updates; reuses its parsers between calls
// (one per thread).
class job_document_reader {
public:
  job_document_reader();
  ~job_document_reader();
  job_document_reader(job_document_reader&&) noexcept;
  job_document_reader& operator=(job_document_reader&&) noexcept;

  // Reads a 200 answer `{"job":{...},...}` tolerantly: unknown fields are ignored, missing
  // ones are absent, int64 may come as strings. `readable`: bytes readable from
  // body.data() (body.size() + 64 avoids a copy). Returns false with `error` set when the
  // body is not a job document at all.
  bool parse(std::string_view body, std::size_t readable, job_document& out, std::string& error);

  // The fields `op` sets (in body order), each with its value in `doc` and whether it
  // changes. Values compare by meaning: numbers by value (300 == 300.0), an int64 field's
  // "300" equals 300, objects whatever their key order; a params or data-source object
  // is compared whole (a key more or less is a change). Returns false when op.body is
  // not JSON of the op's shape (a validated update always is).
  bool compare(const operation& op, const job_document& doc, std::vector<field_change>& out);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The fields a validated update sets (from its body's keys); 0 when the body is not JSON.
field_mask fields_set_by(const operation& op);

// The manifest line that restores, for `op`'s job, the values `changes` hold in `from`,
// leaving out the fields in `skip` (already restored by an earlier line of the undo file)
// and the fields absent from the document (added to `absent`). Empty when no field is
// left. `taken` receives the fields the line restores.
std::string undo_line(const operation& op, const std::vector<field_change>& changes,
                      field_mask skip, std::vector<job_field>& absent, field_mask& taken);

} // namespace jobpatch
