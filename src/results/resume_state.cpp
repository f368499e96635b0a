#include <jobpatch/results/resume_state.hpp>

#include "manifest/json_checks.hpp"

#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/manifest/operation.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
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

// Reads {"line":N,...,"outcome":"ok",...,"fp":"<16 hex>"}; false for anything else.
bool parse_ok_record(ondemand::parser& parser, std::string_view text, std::size_t readable,
                     bool& is_record, std::uint64_t& line, std::uint64_t& fingerprint,
                     std::uint64_t& job) {
  is_record = false;
  ondemand::document doc;
  ondemand::object object;
  if (parser.iterate(text.data(), text.size(), readable).get(doc) || doc.get_object().get(object))
    return false;
  bool have_line = false, ok = false, have_fp = false, have_outcome = false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key, s;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    if (key == "line") {
      have_line = !field.value().get_uint64().get(line);
    } else if (key == "outcome") {
      have_outcome = !field.value().get_string().get(s);
      ok = have_outcome && s == "ok";
    } else if (key == "jobId") {
      if (field.value().get_string().get(s)) return false;
      job = resume_state::job_hash(s);
    } else if (key == "fp") {
      if (field.value().get_string().get(s) || s.size() != 16) return false;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), fingerprint, 16);
      have_fp = ec == std::errc{} && ptr == s.data() + s.size();
    }
  }
  if (!detail::at_document_end(doc)) return false;
  is_record = have_line && have_outcome;
  return is_record && ok && have_fp;
}

} // namespace

resume_state resume_state::load(const std::string& path, std::vector<std::string>& notes) {
  resume_state state;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return state;
    throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  }
  manifest_reader reader(fd, true); // streams the file; closes fd
  // A crash mid-write leaves a partial record: drop it, so its line is simply re-run.
  if (std::size_t cut = cut_torn_tail(fd, path))
    notes.push_back("ignored a torn last record (" + std::to_string(cut) +
                    " bytes without a line end) and cut it off " + path);

  ondemand::parser parser;
  std::uint64_t foreign = 0, first_foreign = 0;
  manifest_line text;
  while (reader.next(text)) {
    bool is_record = false;
    std::uint64_t line = 0, fingerprint = 0, job = 0;
    if (!text.oversized &&
        parse_ok_record(parser, text.text, text.readable, is_record, line, fingerprint, job)) {
      state.ok_.emplace_back(line, fingerprint);
      state.ok_jobs_.push_back(job);
    } else if (!is_record && foreign++ == 0)
      first_foreign = text.number;
  }
  if (foreign)
    notes.push_back("ignored " + std::to_string(foreign) +
                    " lines that are not jobpatch result records (first: line " +
                    std::to_string(first_foreign) + " of " + path + ")");
  std::sort(state.ok_.begin(), state.ok_.end());
  std::sort(state.ok_jobs_.begin(), state.ok_jobs_.end());
  state.ok_jobs_.erase(std::unique(state.ok_jobs_.begin(), state.ok_jobs_.end()),
                       state.ok_jobs_.end());
  return state;
}

std::uint64_t resume_state::job_hash(std::string_view job_id) noexcept {
  return fingerprint_of(0, job_id, op_kind::jobname, {});
}

bool resume_state::has_ok_records_of(std::string_view job_id) const noexcept {
  return std::binary_search(ok_jobs_.begin(), ok_jobs_.end(), job_hash(job_id));
}

resume_state::verdict resume_state::check(std::uint64_t line,
                                          std::uint64_t fingerprint) const noexcept {
  auto it =
      std::lower_bound(ok_.begin(), ok_.end(), std::pair<std::uint64_t, std::uint64_t>{line, 0});
  if (it == ok_.end() || it->first != line) return verdict::not_recorded;
  for (; it != ok_.end() && it->first == line; ++it)
    if (it->second == fingerprint) return verdict::applied;
  return verdict::changed;
}

} // namespace jobpatch
