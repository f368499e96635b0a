#include "mock/job_store.hpp"

#include <jobpatch/text/json_text.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace jobpatch::mock {

namespace json = boost::json;

namespace {

constexpr std::string_view template_id = "tmpl-img-gen-diffusers";
constexpr std::string_view app_id = "img-gen-diffusers";
constexpr std::string_view never = "\"1970-01-01T00:00:00Z\"";

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return text;
}

// proto3 JSON int64: a number (integral) or a decimal string. The validator has already
// checked the form; this only converts.
bool to_int64(const json::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return false;
    out = static_cast<std::int64_t>(v.get_uint64());
    return true;
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (d != std::floor(d) || d < -9.2e18 || d > 9.2e18) return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  if (v.is_string()) {
    auto s = v.get_string();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && ptr == s.data() + s.size();
  }
  return false;
}

// The server's own check beyond the schema: the data source kinds ByteNite knows.
bool known_descriptor(const json::value& source, std::string_view key, std::string& error) {
  static constexpr std::string_view known[] = {"s3",  "aws",  "gcp",    "storj",
                                               "url", "file", "bucket", "bypass"};
  const json::value* d =
      source.is_object() ? source.get_object().if_contains("dataSourceDescriptor") : nullptr;
  if (d && d->is_string()) {
    std::string_view name(d->get_string().data(), d->get_string().size());
    for (auto k : known)
      if (name == k) return true;
  }
  error = "datasource." + std::string(key) + ".dataSourceDescriptor ";
  error += d ? json::serialize(*d) : "(missing)";
  error += " is not supported; use one of s3, aws, gcp, storj, url, file, bucket, bypass";
  return false;
}

// Applies a parsed body to `job`; false (with `error`) if it does not fit the schema.
bool apply_to(job_record& job, op_kind op, const json::value& body, std::string& error) {
  switch (op) {
  case op_kind::jobname:
    if (!body.is_string()) {
      error = "jobname body must be a JSON string";
      return false;
    }
    job.name.assign(body.get_string().data(), body.get_string().size());
    return true;
  case op_kind::configs: {
    if (!body.is_object()) {
      error = "configs body must be an object";
      return false;
    }
    job_record next = job;
    for (const auto& [key, value] : body.get_object()) {
      if (key == "taskTimeout" || key == "jobTimeout") {
        std::int64_t n = 0;
        if (!to_int64(value, n)) {
          error = "configs." + std::string(key) + " must be an int64";
          return false;
        }
        (key == "taskTimeout" ? next.task_timeout : next.job_timeout) = n;
      } else if (key == "isTestJob" && value.is_bool()) {
        next.is_test_job = value.get_bool();
      } else {
        error = "configs." + std::string(key) + " is not allowed here";
        return false;
      }
    }
    job = std::move(next);
    return true;
  }
  case op_kind::params: {
    if (!body.is_object()) {
      error = "params body must be an object";
      return false;
    }
    job_record next = job;
    for (const auto& [key, value] : body.get_object()) {
      if (key == "preset" && value.is_string())
        next.preset.assign(value.get_string().data(), value.get_string().size());
      else if (key == "partitioner")
        next.partitioner = json::serialize(value);
      else if (key == "assembler")
        next.assembler = json::serialize(value);
      else if (key == "app")
        next.app = json::serialize(value);
      else {
        error = "params." + std::string(key) + " is not allowed here";
        return false;
      }
    }
    job = std::move(next);
    return true;
  }
  case op_kind::datasource: {
    if (!body.is_object()) {
      error = "datasource body must be an object";
      return false;
    }
    job_record next = job;
    for (const auto& [key, value] : body.get_object()) {
      if (key != "dataSource" && key != "dataDestination") {
        error = "datasource." + std::string(key) + " is not allowed here";
        return false;
      }
      if (!known_descriptor(value, key, error)) return false;
      (key == "dataSource" ? next.data_source : next.data_destination) = json::serialize(value);
    }
    job = std::move(next);
    return true;
  }
  }
  error = "unknown operation";
  return false;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "cannot write the journal");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

} // namespace

void render_job_document(const job_record& job, std::string& out) {
  out += R"({"job":{"id":)";
  append_json_string(out, job.id);
  out += R"(,"templateId":")";
  out += template_id;
  out += R"(","name":)";
  append_json_string(out, job.name);
  out += R"(,"config":{"taskTimeout":)";
  append_int(out, job.task_timeout);
  out += R"(,"jobTimeout":)";
  append_int(out, job.job_timeout);
  out += job.is_test_job ? R"(,"isTestJob":true})" : R"(,"isTestJob":false})";
  out += R"(,"priority":"EXECUTION_PRIORITY_UNDEFINED","startAt":)";
  out += never;
  out += R"(,"submittedAt":)";
  out += never;
  out += R"(,"startedAt":)";
  out += never;
  out += R"(,"endedAt":)";
  out += never;
  out += R"(,"regions":{"blacklist":[],"whitelist":["us-east1","us-west1","europe-west1"]})";
  out += R"(,"state":"JOB_STATE_NEW","dataSource":)";
  out += job.data_source;
  out += R"(,"params":{"preset":)";
  append_json_string(out, job.preset);
  out += R"(,"partitioner":)";
  out += job.partitioner;
  out += R"(,"assembler":)";
  out += job.assembler;
  out += R"(,"app":)";
  out += job.app;
  out += R"(},"dataDestination":)";
  out += job.data_destination;
  out += R"(,"duration":0,"deletedAt":)";
  out += never;
  out += R"(,"createdAt":")";
  out += job.created_at;
  out += R"(","paymentAmount":0,"numUnitsEstimation":"0","numChunks":0,"errorMessage":"")";
  out += R"(,"description":"Created by jobpatch-mock","stateTimestamps":{"JOB_STATE_NEW":")";
  out += job.created_at;
  out += R"("},"appId":")";
  out += app_id;
  out += R"("},"templateInfo":{"id":")";
  out += template_id;
  out +=
      R"(","owner":"bytenite","description":"Generate images with Stable Diffusion, diffusers backend")";
  out += R"(,"app":")";
  out += app_id;
  out += R"(","partitioner":"fanout-replica","assembler":"zipper"}})";
}

job_store::job_store(const std::string& journal_path) {
  if (journal_path.empty()) return;
  journal_fd_ =
      ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (journal_fd_ < 0)
    throw std::system_error(errno, std::generic_category(),
                            "cannot open the journal " + journal_path);
}

job_store::~job_store() { close_journal(); }

void job_store::close_journal() {
  std::lock_guard lock(mutex_);
  if (journal_fd_ >= 0) ::close(journal_fd_);
  journal_fd_ = -1;
}

void job_store::create(std::string id) {
  std::lock_guard lock(mutex_);
  if (jobs_.find(id) != jobs_.end()) return;
  job_record job;
  job.name = "mock job " + id;
  job.created_at = now_rfc3339();
  job.data_source =
      R"({"dataSourceDescriptor":"url","params":{"@type":"type.googleapis.com/api.v1.URLDataSourceParams","url":"https://storage.example.com/inputs/prompts.zip"}})";
  job.data_destination =
      R"({"dataSourceDescriptor":"bucket","params":{"@type":"type.googleapis.com/api.v1.BucketDataSourceParams"}})";
  job.id = id;
  jobs_.emplace(std::move(id), std::move(job));
}

bool job_store::render(std::string_view id, std::string& out) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  render_job_document(it->second, out);
  return true;
}

apply_result job_store::apply(std::string_view id, op_kind op, std::string_view body,
                              std::string& out, std::string& error) {
  // Parse outside the lock; the validator allows nesting up to 64 levels.
  json::parse_options options;
  options.max_depth = 80;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec, {}, options);
  if (ec) {
    error = "body is not valid JSON: " + ec.message();
    return apply_result::bad_body;
  }
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return apply_result::not_found;
  if (!apply_to(it->second, op, value, error)) return apply_result::bad_body;
  ++applied_;
  if (journal_fd_ >= 0) write_journal(id, op, json::serialize(value));
  render_job_document(it->second, out);
  return apply_result::applied;
}

void job_store::write_journal(std::string_view id, op_kind op, std::string_view compact_body) {
  // One write(2) per record straight to the kernel: a kill -9 right after loses nothing.
  journal_line_.clear();
  journal_line_ += R"({"seq":)";
  append_uint(journal_line_, applied_);
  journal_line_ += R"(,"jobId":)";
  append_json_string(journal_line_, id);
  journal_line_ += R"(,"op":")";
  journal_line_ += to_string(op);
  journal_line_ += R"(","body":)";
  journal_line_ += compact_body;
  journal_line_ += "}\n";
  write_all(journal_fd_, journal_line_);
}

std::uint64_t job_store::applied() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

std::size_t job_store::size() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

} // namespace jobpatch::mock
