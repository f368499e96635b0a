#include <jobpatch/results/resume_state.hpp>

#include <jobpatch/results/result_record.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/manifest/operation.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch {

namespace ondemand = detail::ondemand;

namespace {

// Cuts a partial last record (one without its line end) off the file; returns the bytes cut.
std::size_t cut_torn_tail(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot stat " + path);
  off_t end = st.st_size;
  char block[1 << 16];
  off_t pos = end;
  while (pos > 0) {
    off_t from =
        pos > static_cast<off_t>(sizeof block) ? pos - static_cast<off_t>(sizeof block) : 0;
    ssize_t n = ::pread(fd, block, static_cast<std::size_t>(pos - from), from);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::system_error(errno, std::generic_category(), "cannot read " + path);
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (block[i] == '\n') {
        off_t keep = from + i + 1;
        if (keep < end && ::ftruncate(fd, keep) != 0)
          throw std::system_error(errno, std::generic_category(), "cannot repair " + path);
        return static_cast<std::size_t>(end - keep);
      }
    }
    pos = from;
  }
  if (end > 0 && ::ftruncate(fd, 0) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot repair " + path);
  return static_cast<std::size_t>(end);
}

// What one results record says; `is_record` false for anything else.
struct parsed_record {
  bool is_record = false;
  bool ok = false, failed = false;
  bool have_fp = false, have_seq = false;
  std::uint64_t line = 0, fingerprint = 0, job = 0, seq = 0, status = 0, attempts = 0;
};

// Reads {"line":N,"jobId":..,"seq":N,"outcome":..,"status":N,"attempts":N,..,"fp":"<16 hex>"}.
parsed_record parse_record(ondemand::parser& parser, std::string_view text, std::size_t readable) {
  parsed_record r;
  ondemand::document doc;
  ondemand::object object;
  if (parser.iterate(text.data(), text.size(), readable).get(doc) || doc.get_object().get(object))
    return r;
  bool have_line = false, have_outcome = false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key, s;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return r;
    if (key == "line") {
      have_line = !field.value().get_uint64().get(r.line);
    } else if (key == "outcome") {
      have_outcome = !field.value().get_string().get(s);
      // An unchanged line is done as surely as an applied one.
      r.ok = have_outcome && (s == "ok" || s == "unchanged");
      r.failed = have_outcome && s == "failed";
    } else if (key == "jobId") {
      if (field.value().get_string().get(s)) return r;
      r.job = job_hash_of(s);
    } else if (key == "seq") {
      r.have_seq = !field.value().get_uint64().get(r.seq) && r.seq > 0 && r.seq <= UINT32_MAX;
    } else if (key == "status") {
      if (field.value().get_uint64().get(r.status)) r.status = 0;
    } else if (key == "attempts") {
      if (field.value().get_uint64().get(r.attempts)) r.attempts = 0;
    } else if (key == "fp") {
      if (field.value().get_string().get(s) || s.size() != 16) return r;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), r.fingerprint, 16);
      r.have_fp = ec == std::errc{} && ptr == s.data() + s.size();
    }
  }
  if (!detail::at_document_end(doc)) return r;
  r.is_record = have_line && have_outcome;
  return r;
}

bool by_key(const resume_state::entry& a, const resume_state::entry& b) noexcept {
  if (a.job != b.job) return a.job < b.job;
  if (a.seq != b.seq) return a.seq < b.seq;
  return a.fingerprint < b.fingerprint;
}

bool same_key(const resume_state::entry& a, const resume_state::entry& b) noexcept {
  return a.job == b.job && a.seq == b.seq && a.fingerprint == b.fingerprint;
}

// A failed record that does not stop a resumed run from sending its line again.
constexpr std::int32_t retryable_failure = -1;

} // namespace

std::size_t cut_torn_tail(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  }
  try {
    std::size_t cut = cut_torn_tail(fd, path);
    ::close(fd);
    return cut;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

resume_state resume_state::load(const std::string& path, std::vector<std::string>& notes) {
  resume_state state;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return state;
    throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  }
  // Streams the file (and closes fd); takes every record the writer can make.
  manifest_reader reader(fd, true, max_record_bytes);
  // A crash mid-write leaves a partial record: drop it, so its line is simply re-run.
  if (std::size_t cut = cut_torn_tail(fd, path))
    notes.push_back("ignored a torn last record (" + std::to_string(cut) +
                    " bytes without a line end) and cut it off " + path);

  ondemand::parser parser;
  std::uint64_t foreign = 0, first_foreign = 0;
  manifest_line text;
  // Failed records in file order (only the last record of an update counts); usually few.
  std::vector<entry> failed;
  while (reader.next(text)) {
    parsed_record r;
    if (!text.oversized) r = parse_record(parser, text.text, text.readable);
    if (!r.is_record) {
      if (foreign++ == 0) first_foreign = text.number;
      continue;
    }
    if (!r.have_fp) continue;
    if (!r.have_seq) { // written before seq: keyed by line number
      if (r.ok) {
        state.legacy_ok_.emplace_back(r.line, r.fingerprint);
        state.ok_jobs_.push_back(r.job);
      }
      continue;
    }
    entry e{r.job, r.fingerprint, static_cast<std::uint32_t>(r.seq), 0};
    if (r.ok) {
      state.ok_.push_back(e);
      state.ok_jobs_.push_back(r.job);
    } else if (r.failed) {
      // A failed record without any attempt is a withheld line (the only kind of failure
      // recorded unsent); 400/403/404 are the server refusing the update itself.
      int status = static_cast<int>(std::min<std::uint64_t>(r.status, 999));
      e.status = r.attempts == 0 ? 0 : is_permanent_failure(status) ? status : retryable_failure;
      failed.push_back(e);
    }
  }
  if (foreign)
    notes.push_back("ignored " + std::to_string(foreign) +
                    " lines that are not jobpatch result records (first: line " +
                    std::to_string(first_foreign) + " of " + path + ")");
  state.index(failed);
  return state;
}

void resume_state::index(std::vector<entry>& failed) {
  std::sort(ok_.begin(), ok_.end(), by_key);
  ok_.erase(std::unique(ok_.begin(), ok_.end(), same_key), ok_.end());
  std::sort(legacy_ok_.begin(), legacy_ok_.end());
  legacy_ok_.erase(std::unique(legacy_ok_.begin(), legacy_ok_.end()), legacy_ok_.end());
  std::sort(ok_jobs_.begin(), ok_jobs_.end());
  ok_jobs_.erase(std::unique(ok_jobs_.begin(), ok_jobs_.end()), ok_jobs_.end());
  // The last failed record of each update, unless it was retryable or the update was
  // applied after all.
  std::stable_sort(failed.begin(), failed.end(), by_key);
  for (std::size_t i = 0; i < failed.size(); ++i) {
    if (i + 1 < failed.size() && same_key(failed[i], failed[i + 1])) continue;
    if (failed[i].status == retryable_failure) continue;
    auto ok = std::lower_bound(ok_.begin(), ok_.end(), failed[i], by_key);
    if (ok != ok_.end() && same_key(*ok, failed[i])) continue; // applied since
    failed_.push_back(failed[i]);
    permanent_failures_ += failed[i].status != 0;
  }
}

bool resume_state::has_ok_records_of(std::string_view job_id) const noexcept {
  return std::binary_search(ok_jobs_.begin(), ok_jobs_.end(), job_hash_of(job_id));
}

resume_state::lookup resume_state::check(const key& k) const noexcept {
  entry wanted{k.job, k.fingerprint, k.seq, 0};
  auto it = std::lower_bound(ok_.begin(), ok_.end(), wanted, by_key);
  if (it != ok_.end() && same_key(*it, wanted)) return {verdict::applied};
  if (!legacy_ok_.empty() && std::binary_search(legacy_ok_.begin(), legacy_ok_.end(),
                                                std::pair{k.line, k.line_fingerprint}))
    return {verdict::applied};
  auto failed = std::lower_bound(failed_.begin(), failed_.end(), wanted, by_key);
  if (failed != failed_.end() && same_key(*failed, wanted))
    return failed->status ? lookup{verdict::failed_before, failed->status}
                          : lookup{verdict::withheld_before};
  // An ok record at this place of the job, for other content: the manifest changed. (An
  // ok record sorts before this key when its fingerprint is smaller.)
  bool changed = (it != ok_.end() && it->job == k.job && it->seq == k.seq) ||
                 (it != ok_.begin() && std::prev(it)->job == k.job && std::prev(it)->seq == k.seq);
  if (!changed && !legacy_ok_.empty()) {
    auto line = std::lower_bound(legacy_ok_.begin(), legacy_ok_.end(),
                                 std::pair<std::uint64_t, std::uint64_t>{k.line, 0});
    changed = line != legacy_ok_.end() && line->first == k.line;
  }
  return {changed ? verdict::changed : verdict::not_recorded};
}

} // namespace jobpatch
