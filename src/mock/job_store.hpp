#pragma once
// The mock's in-memory jobs and its journal of applied PATCHes.

#include <jobpatch/manifest/operation.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobpatch::mock {

// One job as the Customer API describes it. Opaque JSON objects are kept as their compact
// JSON text: the mock only replaces them whole and writes them back out.
struct job_record {
  std::string id;
  std::string name;
  std::int64_t task_timeout = 3600;
  std::int64_t job_timeout = 86400;
  bool is_test_job = false;
  std::string preset;
  std::string partitioner = "{}", assembler = "{}", app = "{}";
  std::string data_source, data_destination;
  std::string created_at; // RFC 3339
};

enum class apply_result { applied, not_found, bad_body };

// Thread-safe: one mutex guards the jobs and the journal, so the journal's order is the
// order in which updates were applied.
class job_store {
public:
  // `journal_path` empty: no journal. Throws std::system_error if it cannot be opened.
  explicit job_store(const std::string& journal_path = {});
  ~job_store();
  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  // Adds a job with default fields (no-op if it exists). For setting up, before serving.
  void create(std::string id);

  // Appends the `{"job":{...},"templateInfo":{...}}` document of job `id` to `out`;
  // false when there is no such job.
  bool render(std::string_view id, std::string& out) const;

  // Applies `body` (already accepted by body_validator for `op`) to job `id`, journals it
  // and appends the updated document to `out`. `error` explains a bad_body.
  apply_result apply(std::string_view id, op_kind op, std::string_view body, std::string& out,
                     std::string& error);

  std::uint64_t applied() const;
  std::size_t size() const;

  // Closes the journal; everything applied so far is already written to it.
  void close_journal();

private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  void write_journal(std::string_view id, op_kind op, std::string_view compact_body);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, job_record, string_hash, std::equal_to<>> jobs_;
  std::uint64_t applied_ = 0;
  int journal_fd_ = -1;
  std::string journal_line_; // reused, guarded by mutex_
};

// Appends the 200 document of `job` (about 1.3 KB) to `out`.
void render_job_document(const job_record& job, std::string& out);

} // namespace jobpatch::mock
