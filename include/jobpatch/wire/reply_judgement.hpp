#pragma once
// What one attempt's answer means: applied, failed for good, or worth another try; the
// status and error text to record, the verification verdict, the server's Retry-After,
// and whether the job is now "in doubt" (the request may still be applied later). Pure:
// no sockets, time passed in. Both engines judge every answer here, so they agree.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/run/attempt_outcome.hpp>
#include <jobpatch/wire/server_text.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

class response_parser;
class secret_scrubber;
class job_document_reader;
struct job_document;

// What came back from one attempt, as the transport saw it.
struct reply_facts {
  // error_class::none when a complete final HTTP answer was read; otherwise the class of
  // the transport failure (connect, TLS, timeout, reset, truncated, malformed...).
  error_class transport = error_class::none;
  // The transport's error text, when it failed: server text, since it may quote the
  // server (a proxy's reason phrase).
  server_text transport_detail;
  // The whole request reached the socket: after a transport failure the server may still
  // have it (and apply it later).
  bool request_written = false;
  int status = 0;               // the final status (1xx are skipped by the transport)
  std::string_view retry_after; // Retry-After header value, empty when absent
  std::string_view body;
  std::size_t readable = 0; // bytes readable from body.data() (>= body.size() + 64 avoids a copy)
};

// How the answer settles the update, before any retry policy is asked.
enum class reply_verdict : std::uint8_t {
  applied, // a 2xx for this job: the update is done
  // A failure the retry policy decides on: it retries 5xx, 429, transport failures and a
  // cut-short 200, and ends 4xx, TLS verification failures and the like.
  policy_decides,
  final_fail, // a failure no retry can mend (a 2xx that names another job)
};

// The judgement of one answer. Strings keep their capacity when the struct is reused.
struct reply_judgement {
  reply_verdict verdict = reply_verdict::policy_decides;
  // For the retry policy, the failure detector and the statistics. A 2xx naming another
  // job is a malformed_response here: it must not count as a success anywhere.
  attempt_outcome outcome;
  int status = 0;     // the status to record: 0 when no answer was read
  std::string error;  // scrubbed text for the results ("HTTP 404: no such job"); empty on success
  std::string reason; // byError key when verdict == final_fail; empty otherwise
  bool verified = false; // applied: every field sent reads back with the sent value
  std::string state;     // applied: job.state (scrubbed), when present
  std::optional<std::chrono::milliseconds> retry_after; // parsed Retry-After
  // The PATCH may have been applied, now or later: a gateway's 502/504, a transport
  // failure (our own cancel included) after the request was fully written, or a 2xx
  // that cannot be used (empty, not JSON, not a job, another job's document). Never for
  // a read.
  bool in_doubt = false;
  // The run cannot go on: the server's certificate or host name did not verify.
  bool abort_run = false;

  bool applied() const noexcept { return verdict == reply_verdict::applied; }
};

// Judges the answer to `op`. Server text (error bodies, verdict texts, the job state) is
// scrubbed with `scrubber` where it enters, since an error body may quote the request and
// its token. `now_utc` dates an HTTP-date Retry-After. `parser` is reused scratch space.
void judge_reply(update_view op, const reply_facts& facts, response_parser& parser,
                 const secret_scrubber& scrubber, std::chrono::system_clock::time_point now_utc,
                 reply_judgement& out);

// Judges the answer to GET /v1/customer/jobs/{job_id} like judge_reply() judges a PATCH's:
// "applied" is a 200 holding this job's document, read into `doc` (with `verified` set);
// a 2xx that is not a job document is worth another read (malformed_response); one that
// names another job fails for good; a 404 ends as a 404 (the job does not exist). A read
// is never in doubt.
void judge_read_reply(std::string_view job_id, const reply_facts& facts, response_parser& parser,
                      job_document_reader& reader, const secret_scrubber& scrubber,
                      std::chrono::system_clock::time_point now_utc, reply_judgement& out,
                      job_document& doc);

// The byError key of an HTTP status that ended a line: the status with its reason phrase
// ("HTTP 404 Not Found"), so a 404 is told from a 403 at a glance.
std::string http_status_key(int status);
// The same, assigned to `out` (its capacity reused: no allocation once warm).
void assign_http_status_key(std::string& out, int status);

} // namespace jobpatch
