#pragma once
// What the apply engine keeps for runs that read each job before its update (plan,
// --skip-unchanged, --undo-out): the comparison of the job's document with the update,
// the plan's lines, the undo lines and the per-job state behind them. No I/O of its own
// but the plan sink's records; the engine calls it at two points, after a read and when
// a line ends.

#include "net/slot_table.hpp"

#include <jobpatch/manifest/body_validator.hpp>
#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/results/plan_record.hpp>
#include <jobpatch/run/outcome.hpp>
#include <jobpatch/wire/job_document.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobpatch::net {

class read_first_tracker {
public:
  struct settings {
    bool plan = false;
    bool skip_unchanged = false;
    bool undo = false; // --undo-out
  };
  // `plan` (a plan's sink, else null) and `scrubber` outlive the tracker; notes for the
  // summary go to `notes`. `undo_fields`: per job, the fields that earlier runs' undo
  // lines restore already (--resume).
  read_first_tracker(settings s, plan_sink* plan, const secret_scrubber& scrubber,
                     std::vector<std::string>& notes,
                     const std::vector<std::pair<std::string, field_mask>>& undo_fields);

  enum class next_step {
    compare_failed, // the body could not be compared with the document: the line fails
    planned,        // plan: the line is done (ok)
    unchanged,      // --skip-unchanged: the job holds it already, nothing is sent
    secret_in_undo, // --undo-out: an old value holds the API key or a token (in any
                    // spelling); nothing is sent, since the undo line could not be written
    patch,          // the PATCH follows (with --undo-out, once its undo line in the slot is
                    // written: the job's later lines restore none of its fields again)
  };
  // The job's document of `s` was read into `doc` (which may be rewritten with what this
  // plan's earlier lines of the job would have set).
  next_step after_read(slot& s, job_document& doc, job_document_reader& reader);

  // `s` ends with `result`: its plan line is recorded (plan).
  void on_finish(const slot& s, outcome result);
  // A plan's record of an invalid line.
  void record_invalid(const invalid_line& bad);
  // Notes for the end of the run.
  void add_final_notes();

private:
  void record_plan(const slot& s, outcome result);
  // False when the undo line would write a secret (then none is kept).
  bool keep_undo_line(slot& s);

  settings settings_;
  plan_sink* plan_;
  const secret_scrubber& scrubber_;
  std::vector<std::string>& notes_;
  // The last read's comparison (used at once, before the engine's next co_await).
  std::vector<field_change> changes_;
  bool plan_changes_ = false;
  // --undo-out: per job, the fields an undo line restores already. The first undo line
  // of a field holds the value from before the run; a later line of the same job saw a
  // value this run set, so restoring it would undo the undo (the file is applied in order).
  // An undo line is written ahead of its PATCH, whatever becomes of the PATCH: restoring a
  // value the job still holds changes nothing.
  // Jobs with one update (operation::only_update) are not kept.
  std::unordered_map<std::string, field_mask> undo_fields_;
  std::vector<job_field> undo_absent_fields_;
  std::unique_ptr<body_validator> undo_validator_;
  std::uint64_t undo_problems_ = 0; // fields the undo file cannot restore
  static constexpr std::uint64_t max_undo_notes = 20;
  // plan: each job's values as the lines planned so far would leave them, so that a
  // job's second line is compared with what its first would have set. Only jobs with more
  // than one update are kept.
  std::unordered_map<std::string, std::array<std::optional<std::string>, job_field_count>> planned_;
};

} // namespace jobpatch::net
