#include "net/read_first_tracker.hpp"

namespace jobpatch::net {

read_first_tracker::read_first_tracker(
    settings s, plan_sink* plan, const secret_scrubber& scrubber, std::vector<std::string>& notes,
    const std::vector<std::pair<std::string, field_mask>>& undo_fields)
    : settings_(s), plan_(plan), scrubber_(scrubber), notes_(notes) {
  for (const auto& [job, fields] : undo_fields) undo_fields_[job] |= fields;
}

read_first_tracker::next_step read_first_tracker::after_read(slot& s, job_document& doc,
                                                             job_document_reader& reader) {
  std::array<std::optional<std::string>, job_field_count>* planned = nullptr;
  if (settings_.plan && !s.op.only_update) {
    // A job's earlier lines in this plan have (as far as the plan knows) set their values;
    // a job with one update has nothing to remember.
    planned = &planned_[s.op.job_id];
    for (std::size_t f = 0; f < job_field_count; ++f)
      if ((*planned)[f]) doc.values[f] = (*planned)[f];
  }
  if (!reader.compare(s.op, doc, changes_)) return next_step::compare_failed;
  plan_changes_ = any_change(changes_);
  if (settings_.plan) {
    if (planned)
      for (const auto& c : changes_) (*planned)[static_cast<std::size_t>(c.field)] = c.to;
    return next_step::planned;
  }
  if (settings_.skip_unchanged && !plan_changes_) return next_step::unchanged;
  if (settings_.undo && !keep_undo_line(s)) return next_step::secret_in_undo;
  return next_step::patch;
}

void read_first_tracker::on_finish(const slot& s, outcome result) {
  if (plan_) record_plan(s, result);
}

void read_first_tracker::record_invalid(const invalid_line& bad) {
  if (!plan_) return;
  plan_record r;
  r.line = bad.line;
  r.job_id = bad.job_id;
  r.op = bad.op;
  r.result = plan_outcome::invalid;
  r.error = bad.message;
  plan_->record(r);
}

void read_first_tracker::record_plan(const slot& s, outcome result) {
  plan_record r;
  r.line = s.op.line;
  r.job_id = s.op.job_id;
  r.op = s.op.op;
  r.status = s.last_status;
  if (result == outcome::ok) {
    r.result = plan_changes_ ? plan_outcome::change : plan_outcome::unchanged;
    // The job's values are server text shown to a person: a server that echoes the token
    // or key into a field must not put it on the terminal or into the plan file. (The undo
    // file keeps them as read: it must restore what the job held.)
    for (auto& c : changes_)
      if (c.from) scrubber_.scrub_in_place(*c.from);
    r.changes = &changes_;
  } else {
    // A job that does not exist answers 404 to its read, as it would to the PATCH.
    r.result = s.last_status == 404 ? plan_outcome::not_found : plan_outcome::failed;
    r.error = s.last_error;
  }
  plan_->record(r);
}

bool read_first_tracker::keep_undo_line(slot& s) {
  auto it = undo_fields_.find(s.op.job_id);
  field_mask restored = it == undo_fields_.end() ? 0 : it->second;
  undo_absent_fields_.clear();
  s.undo_line = undo_line(s.op, changes_, restored, undo_absent_fields_, s.undo_fields);
  for (job_field f : undo_absent_fields_) {
    // Nothing to put back: the job's document does not show the field (an API may leave
    // out a field at its default value). The run says so; the other fields are restored.
    if (++undo_problems_ > max_undo_notes) continue;
    notes_.push_back("--undo-out: line " + std::to_string(s.op.line) + ": " +
                     std::string(field_label(f)) +
                     " is absent from the job's document; the undo file cannot restore it");
  }
  if (s.undo_line.empty()) return true;
  // A server that echoes the key or a token into a job's field must not have it written
  // to the undo file, which is kept and passed around; and without the undo line the
  // update cannot be sent (nothing is changed that cannot be put back).
  if (scrubber_.holds_secret(s.undo_line)) {
    s.undo_line.clear();
    s.undo_fields = 0;
    return false;
  }
  // The old values must make a line the API (and jobpatch) accepts, or the undo file
  // would not apply: a data source the server shows with keys the schema lacks, say.
  if (!undo_validator_) undo_validator_ = std::make_unique<body_validator>();
  std::string_view body = s.undo_line;
  body.remove_prefix(body.find(",\"body\":") + 8);
  body.remove_suffix(1);
  if (!undo_validator_->validate(s.op.op, body)) {
    if (++undo_problems_ <= max_undo_notes)
      notes_.push_back("--undo-out: line " + std::to_string(s.op.line) +
                       ": the job's old values do not make a valid update (" +
                       undo_validator_->error() + "); the undo file cannot restore them");
    s.undo_line.clear();
    s.undo_fields = 0;
    return true;
  }
  if (!s.op.only_update) undo_fields_[s.op.job_id] |= s.undo_fields;
  return true;
}

void read_first_tracker::add_final_notes() {
  if (undo_problems_ > max_undo_notes)
    notes_.push_back("--undo-out: " + std::to_string(undo_problems_ - max_undo_notes) +
                     " more fields the undo file cannot restore (not listed)");
}

} // namespace jobpatch::net
