#include <jobpatch/wire/reply_judgement.hpp>

#include <jobpatch/text/json_text.hpp>
#include <jobpatch/wire/job_document.hpp>
#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/retry_after.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <charconv>
#include <iterator>

namespace jobpatch {
namespace {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return {};
  }
}

void judge_success(update_view op, const reply_facts& facts, response_parser& parser,
                   const secret_scrubber& scrubber, reply_judgement& out) {
  if (facts.status == 204) {
    // No Content: the server says it applied the update but shows nothing to check it
    // against (the API documents a 200 with the job). Applied, "verified": false.
    out.verdict = reply_verdict::applied;
    out.outcome = attempt_outcome::success(facts.status);
    return;
  }
  patch_verdict verdict; // its error is empty on the way that matters: no allocation
  bool is_job = parser.check_patch(op, facts.body, facts.readable, verdict);
  if (!is_job) {
    // Most likely cut short; the PATCH sets absolute values, so trying again is safe.
    out.verdict = reply_verdict::policy_decides;
    out.outcome = attempt_outcome::failure(error_class::malformed_response);
    out.in_doubt = true; // a 2xx says the server took it: it may well have been applied
    out.error = verdict.error;
    scrubber.scrub_in_place(out.error); // a key name may be quoted
    return;
  }
  if (!verdict.job_matches) {
    // The answer is another job's document: a proxy, cache or server mixed answers up,
    // so where this PATCH went is unknown. Sending it again could land it on the wrong
    // job a second time and cannot tell us more; the line fails, for a person to look at.
    out.verdict = reply_verdict::final_fail;
    out.outcome = attempt_outcome::failure(error_class::malformed_response);
    out.reason = "answer names another job";
    out.in_doubt = true; // our job's path was sent the PATCH: it may have been applied
    out.error = "the answer is for job ";
    append_json_string(out.error, scrubber.shown(verdict.answered_id));
    out.error += ", not the job that was patched";
    return;
  }
  out.verdict = reply_verdict::applied;
  out.outcome = attempt_outcome::success(facts.status);
  out.verified = verdict.verified;
  // What did not verify is told by "verified": false.
  scrubber.append_shown(out.state, verdict.state);
}

} // namespace

std::string http_status_key(int status) {
  std::string key;
  assign_http_status_key(key, status);
  return key;
}

void assign_http_status_key(std::string& out, int status) {
  char digits[16];
  auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), status);
  (void)ec; // an int always fits
  out.assign("HTTP ");
  out.append(digits, end);
  std::string_view phrase = reason_phrase(status);
  if (!phrase.empty()) {
    out += ' ';
    out += phrase;
  }
}

namespace {

// What every answer shares; `on_success` judges a 2xx.
template <class Success>
void judge(const reply_facts& facts, response_parser& parser, const secret_scrubber& scrubber,
           std::chrono::system_clock::time_point now_utc, reply_judgement& out,
           Success on_success) {
  out.verdict = reply_verdict::policy_decides;
  out.status = 0;
  out.error.clear();
  out.reason.clear();
  out.verified = false;
  out.state.clear();
  out.retry_after.reset();
  out.in_doubt = false;
  out.abort_run = false;

  if (facts.transport != error_class::none) {
    out.outcome = attempt_outcome::failure(facts.transport);
    scrubber.append_shown(out.error, facts.transport_detail);
    // Once the request was fully written the server may have it, whatever ended the
    // attempt (a timeout, a reset, a kept-alive connection closed before any answer, our
    // own cancel when the run stops).
    out.in_doubt = facts.request_written;
    // A certificate that does not verify will not verify on the next request either.
    out.abort_run = facts.transport == error_class::tls_verify;
    return;
  }

  out.status = facts.status;
  if (!facts.retry_after.empty()) out.retry_after = parse_retry_after(facts.retry_after, now_utc);
  if (facts.status >= 200 && facts.status < 300) {
    on_success();
    return;
  }
  if (facts.status < 200) {
    // An interim answer where the final one belongs (the transport skips 1xx and fails a
    // 101 itself): not an answer to the PATCH at all, which the server did receive.
    out.outcome = attempt_outcome::failure(error_class::malformed_response);
    out.error = "HTTP " + std::to_string(facts.status) + " where a final answer was expected";
    out.in_doubt = true;
    return;
  }
  out.outcome = attempt_outcome::http(facts.status);
  // Server text is scrubbed where it enters: an error body may quote the request, its
  // Authorization header (the token) included.
  server_text text = parser.error_text(facts.body, facts.readable);
  out.error = "HTTP " + std::to_string(facts.status);
  if (!text.empty()) {
    out.error += ": ";
    scrubber.append_shown(out.error, text);
  }
  // A gateway's 502/504 says nothing of the backend, which may still apply the request.
  out.in_doubt = facts.status == 502 || facts.status == 504;
}

// A GET answer: the job's document, which must be this job's.
void judge_read_success(std::string_view job_id, const reply_facts& facts,
                        job_document_reader& reader, const secret_scrubber& scrubber,
                        reply_judgement& out, job_document& doc) {
  if (!reader.parse(facts.body, facts.readable, doc, out.error)) {
    // Most likely cut short (or a 204): reading again is harmless.
    out.verdict = reply_verdict::policy_decides;
    out.outcome = attempt_outcome::failure(error_class::malformed_response);
    scrubber.scrub_in_place(out.error); // a key name may be quoted
    return;
  }
  if (doc.id != job_id) {
    out.verdict = reply_verdict::final_fail;
    out.outcome = attempt_outcome::failure(error_class::malformed_response);
    out.reason = "answer names another job";
    out.error = "the answer is for job ";
    append_json_string(out.error, scrubber.shown(server_text(doc.id, 80)));
    out.error += ", not the job that was read";
    return;
  }
  out.verdict = reply_verdict::applied;
  out.outcome = attempt_outcome::success(facts.status);
  out.verified = true;
  scrubber.append_shown(out.state, server_text(doc.state));
}

} // namespace

void judge_reply(update_view op, const reply_facts& facts, response_parser& parser,
                 const secret_scrubber& scrubber, std::chrono::system_clock::time_point now_utc,
                 reply_judgement& out) {
  judge(facts, parser, scrubber, now_utc, out,
        [&] { judge_success(op, facts, parser, scrubber, out); });
}

void judge_read_reply(std::string_view job_id, const reply_facts& facts, response_parser& parser,
                      job_document_reader& reader, const secret_scrubber& scrubber,
                      std::chrono::system_clock::time_point now_utc, reply_judgement& out,
                      job_document& doc) {
  judge(facts, parser, scrubber, now_utc, out,
        [&] { judge_read_success(job_id, facts, reader, scrubber, out, doc); });
  // A read changes nothing: an unanswered one leaves nothing to wait for.
  out.in_doubt = false;
}

} // namespace jobpatch
