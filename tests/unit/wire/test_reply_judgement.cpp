#include <jobpatch/wire/reply_judgement.hpp>

#include <jobpatch/wire/job_document.hpp>
#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;
using namespace std::chrono_literals;

namespace {
const auto utc = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

operation configs_op() {
  operation op;
  op.job_id = "job-1";
  op.op = op_kind::configs;
  op.body = R"({"taskTimeout":600})";
  return op;
}

std::string job_answer(std::string_view id, std::string_view config) {
  std::string out = R"({"job":{"id":")";
  out += id;
  out += R"(","name":"n","state":"JOB_STATE_NEW","config":)";
  out += config;
  out += R"(},"templateInfo":{}})";
  return out;
}

struct judge {
  response_parser parser;
  secret_scrubber scrubber;
  reply_judgement out;

  const reply_judgement& answer(int status, std::string body, std::string_view retry_after = {}) {
    body_ = std::move(body);
    reply_facts facts;
    facts.status = status;
    facts.body = body_;
    facts.readable = 0;
    facts.retry_after = retry_after;
    judge_reply(op, facts, parser, scrubber, utc, out);
    return out;
  }
  const reply_judgement& failure(error_class cls, bool written, std::string_view detail = "x") {
    reply_facts facts;
    facts.transport = cls;
    facts.transport_detail = server_text(detail);
    facts.request_written = written;
    judge_reply(op, facts, parser, scrubber, utc, out);
    return out;
  }

  operation op = configs_op();

private:
  std::string body_;
};
} // namespace

TEST_CASE("reply_judgement: a 200 with this job's document is applied and verified") {
  judge j;
  auto& r = j.answer(200, job_answer("job-1", R"({"taskTimeout":600})"));
  CHECK(r.verdict == reply_verdict::applied);
  CHECK(r.applied());
  CHECK(r.outcome == attempt_outcome::success(200));
  CHECK(r.status == 200);
  CHECK(r.verified);
  CHECK(r.state == "JOB_STATE_NEW");
  CHECK(r.error.empty());
  CHECK_FALSE(r.in_doubt);
  CHECK_FALSE(r.abort_run);
}

TEST_CASE("reply_judgement: a 200 showing other values is applied, not verified") {
  judge j;
  auto& r = j.answer(200, job_answer("job-1", R"({"taskTimeout":5})"));
  CHECK(r.applied());
  CHECK_FALSE(r.verified);
  CHECK(r.error.empty());
}

TEST_CASE("reply_judgement: a 2xx naming another job is a final failure, never a success") {
  judge j;
  auto& r = j.answer(200, job_answer("job-2", R"({"taskTimeout":600})"));
  CHECK(r.verdict == reply_verdict::final_fail);
  CHECK_FALSE(r.applied());
  CHECK_FALSE(r.outcome.ok()); // statistics, detector and policy see no success
  CHECK(r.outcome.cls == error_class::malformed_response);
  CHECK(r.status == 200);
  CHECK(r.reason == "answer names another job");
  CHECK(r.error.find("job-2") != std::string::npos);
  CHECK(r.state.empty());
  CHECK(r.in_doubt); // sent to this job's path: it may have been applied here
}

TEST_CASE("reply_judgement: a 200 that is not a job document is in doubt, left to the retry "
          "policy") {
  judge j;
  for (std::string body :
       {std::string(""), std::string("<html>ok</html>"), std::string(R"({"job":{"id":"job-1","na)"),
        std::string("[]"), std::string(R"({"ok":true})")}) {
    CAPTURE(body);
    auto& r = j.answer(200, body);
    CHECK(r.verdict == reply_verdict::policy_decides);
    CHECK(r.outcome.cls == error_class::malformed_response);
    CHECK(r.status == 200);
    CHECK_FALSE(r.error.empty());
    CHECK(r.in_doubt); // the server took the PATCH: it may have applied it
  }
}

// Was recorded ok and "verified": true by the last of the two ids.
TEST_CASE("reply_judgement: a 200 whose job has a key twice is not applied, and in doubt") {
  judge j;
  auto& r = j.answer(
      200, R"({"job":{"id":"job-2","config":{"taskTimeout":600},"id":"job-1"},"templateInfo":{}})");
  CHECK_FALSE(r.applied());
  CHECK(r.verdict == reply_verdict::policy_decides);
  CHECK(r.outcome.cls == error_class::malformed_response);
  CHECK_FALSE(r.verified);
  CHECK(r.in_doubt); // the server took the PATCH: it may have applied it
  CHECK(r.error == R"(the answer has a duplicate key "id" (in job))");
  CHECK(r.state.empty());
}

TEST_CASE("reply_judgement: a 204 is applied and cannot be verified") {
  judge j;
  auto& r = j.answer(204, "");
  CHECK(r.applied());
  CHECK(r.outcome == attempt_outcome::success(204));
  CHECK_FALSE(r.verified);
  CHECK(r.state.empty());
}

TEST_CASE("reply_judgement: an interim 1xx is not an answer to the PATCH") {
  judge j;
  auto& r = j.answer(100, "");
  CHECK(r.verdict == reply_verdict::policy_decides);
  CHECK(r.outcome.cls == error_class::malformed_response);
  CHECK(r.error == "HTTP 100 where a final answer was expected");
  CHECK(r.in_doubt); // the server has the PATCH: it may apply it
}

TEST_CASE("reply_judgement: error statuses carry the server's text in either body shape") {
  judge j;
  auto& rpc = j.answer(404, R"({"code":5,"message":"job not found","details":[]})");
  CHECK(rpc.verdict == reply_verdict::policy_decides);
  CHECK(rpc.outcome == attempt_outcome::http(404));
  CHECK(rpc.status == 404);
  CHECK(rpc.error == "HTTP 404: job not found");
  CHECK_FALSE(rpc.in_doubt);

  auto& ok_false =
      j.answer(400, R"({"ok":false,"error":{"code":3,"message":"bad timeout","description":"d"}})");
  CHECK(ok_false.error.rfind("HTTP 400: ", 0) == 0);
  CHECK(ok_false.error.find("bad timeout") != std::string::npos);

  CHECK(j.answer(500, "").error == "HTTP 500");
  CHECK(j.answer(503, "upstream overloaded").error == "HTTP 503: upstream overloaded");
  CHECK(j.answer(301, "").outcome == attempt_outcome::http(301));
  CHECK(j.answer(401, "{}").outcome == attempt_outcome::http(401));
}

TEST_CASE("reply_judgement: Retry-After is parsed in seconds and as an HTTP date") {
  judge j;
  CHECK(j.answer(429, "", "7").retry_after == std::chrono::milliseconds(7000));
  CHECK(j.answer(503, "", "Tue, 14 Nov 2023 22:13:40 GMT").retry_after ==
        std::chrono::milliseconds(20'000)); // utc is 22:13:20
  CHECK_FALSE(j.answer(503, "", "soon").retry_after);
  CHECK_FALSE(j.answer(503, "").retry_after);
}

TEST_CASE("reply_judgement: a gateway's 502/504 leaves the job in doubt, a 500/503 does not") {
  judge j;
  CHECK(j.answer(502, "").in_doubt);
  CHECK(j.answer(504, "").in_doubt);
  CHECK_FALSE(j.answer(500, "").in_doubt);
  CHECK_FALSE(j.answer(503, "").in_doubt);
  CHECK_FALSE(j.answer(429, "").in_doubt);
}

TEST_CASE("reply_judgement: a transport failure is in doubt only once the request was written") {
  judge j;
  auto& before = j.failure(error_class::reset, false, "connection reset");
  CHECK(before.verdict == reply_verdict::policy_decides);
  CHECK(before.outcome == attempt_outcome::failure(error_class::reset));
  CHECK(before.status == 0);
  CHECK(before.error == "connection reset");
  CHECK_FALSE(before.in_doubt);
  CHECK(j.failure(error_class::timeout, true).in_doubt);
  CHECK(j.failure(error_class::truncated, true).in_doubt);
  CHECK(j.failure(error_class::reset, true).in_doubt);
  CHECK(j.failure(error_class::malformed_response, true).in_doubt);
  // Our own stop (a signal's cut-off) after the request left: the server may have it.
  CHECK(j.failure(error_class::cancelled, true).in_doubt);
  CHECK_FALSE(j.failure(error_class::cancelled, false).in_doubt);
  CHECK_FALSE(j.failure(error_class::connect_refused, false).abort_run);
}

TEST_CASE("reply_judgement: a TLS verification failure aborts the run") {
  judge j;
  auto& r = j.failure(error_class::tls_verify, false, "certificate verify failed");
  CHECK(r.abort_run);
  CHECK(r.verdict == reply_verdict::policy_decides); // the policy ends it: not retryable
  CHECK_FALSE(r.in_doubt);
}

TEST_CASE("reply_judgement: server text is scrubbed of the secrets") {
  judge j;
  j.scrubber.add_token("tok-SECRET-123");
  CHECK(j.answer(403, R"({"message":"token tok-SECRET-123 refused"})").error ==
        "HTTP 403: token [redacted] refused");
  CHECK(j.failure(error_class::reset, false, "reset by tok-SECRET-123").error ==
        "reset by [redacted]");
  auto& other = j.answer(200, job_answer("tok-SECRET-123", "{}"));
  CHECK(other.error.find("tok-SECRET-123") == std::string::npos);
  std::string state_doc =
      R"({"job":{"id":"job-1","state":"S tok-SECRET-123","config":{"taskTimeout":600}}})";
  CHECK(j.answer(200, state_doc).state == "S [redacted]");
}

// Issue 24: server text was cut to its excerpt first and scrubbed after, so a key that
// straddled the cut was shown all but its tail; and only three spellings were known.
TEST_CASE("reply_judgement: a secret straddling the cut or spelled otherwise is never shown") {
  judge j;
  const std::string key = "k3y/5f1e-9c2d-77ab-0011";
  j.scrubber.add_permanent(key);
  auto no_fragment = [&](const std::string& text) {
    INFO(text);
    CHECK(text.find("[") != std::string::npos); // the server's text did arrive, masked
    for (std::size_t at = 0; at + 8 <= key.size(); ++at)
      CHECK(text.find(key.substr(at, 8)) == std::string::npos);
    CHECK(text.find("k3y") == std::string::npos);
  };
  for (std::size_t before : {190, 195, 199}) // a plain body is shown to 200 bytes
    no_fragment(j.answer(400, std::string(before, 'x') + key).error);
  for (std::size_t before : {490, 495, 499}) // a JSON message to 500
    no_fragment(j.answer(400, R"({"message":")" + std::string(before, 'x') + key + "\"}").error);
  no_fragment(j.answer(400, R"(<p>k3y\/5f1e\u002D9c2d-77ab-0011</p>)").error);
  no_fragment(j.answer(400, "key=k3y%2f5f1e%2D9c2d-77ab-0011").error);
  no_fragment(j.answer(200, job_answer(std::string(70, 'x') + key, "{}")).error);
  // A key given twice is named whole in the error (and scrubbed), as is the path to it.
  std::string long_key = std::string(70, 'x') + key;
  no_fragment(
      j.answer(200, R"({"job":{"id":"job-1",")" + long_key + R"(":1,")" + long_key + R"(":2}})")
          .error);
  no_fragment(j.answer(200, R"({"job":{"id":"job-1",")" + long_key + R"(":{"a":1,"a":2}}})").error);
  no_fragment(j.failure(error_class::connect_failed, false,
                        "proxy refused the tunnel: HTTP 403 " + std::string(75, 'r') + key)
                  .error);
  std::string state_doc = R"({"job":{"id":"job-1","state":")" + std::string(250, 's') + key +
                          R"(","config":{"taskTimeout":600}}})";
  no_fragment(j.answer(200, state_doc).state);
}

TEST_CASE("reply_judgement: a judgement reused for the next answer keeps nothing of the last") {
  judge j;
  j.answer(502, "bad", "3");
  auto& r = j.answer(200, job_answer("job-1", R"({"taskTimeout":600})"));
  CHECK(r.applied());
  CHECK_FALSE(r.retry_after);
  CHECK_FALSE(r.in_doubt);
  CHECK(r.error.empty());
  CHECK(r.reason.empty());
}

TEST_CASE("reply_judgement: byError keys name the status with its reason phrase") {
  CHECK(http_status_key(404) == "HTTP 404 Not Found");
  CHECK(http_status_key(403) == "HTTP 403 Forbidden");
  CHECK(http_status_key(418) == "HTTP 418");
}

TEST_CASE("reply_judgement: a GET answer is read as the job's document") {
  response_parser parser;
  job_document_reader reader;
  secret_scrubber scrubber;
  reply_judgement out;
  job_document doc;
  auto read = [&](int status, const std::string& body) -> const reply_judgement& {
    reply_facts facts;
    facts.status = status;
    facts.body = body;
    judge_read_reply("job-1", facts, parser, reader, scrubber, utc, out, doc);
    return out;
  };
  CHECK(read(200, job_answer("job-1", R"({"taskTimeout":"300"})")).applied());
  CHECK(out.state == "JOB_STATE_NEW");
  CHECK(doc.value(job_field::task_timeout) == "\"300\"");

  // Another job's document: final, never taken for this job's.
  CHECK(read(200, job_answer("job-2", "{}")).verdict == reply_verdict::final_fail);
  CHECK(out.reason == "answer names another job");
  // Cut short: the policy decides (a read may be repeated).
  CHECK(read(200, R"({"job":{"id":"job-1","na)").verdict == reply_verdict::policy_decides);
  CHECK(out.outcome.cls == error_class::malformed_response);
  // A key twice: which value is the job's cannot be told; read again (policy).
  CHECK(read(200, R"({"job":{"id":"job-2","name":"x","id":"job-1"}})").verdict ==
        reply_verdict::policy_decides);
  CHECK(out.outcome.cls == error_class::malformed_response);
  CHECK(out.error == R"(the answer has a duplicate key "id" (in job))");
  // 404: no such job, as for a PATCH.
  CHECK(read(404, R"({"code":5,"message":"job not found"})").outcome == attempt_outcome::http(404));
  CHECK(out.error == "HTTP 404: job not found");

  // 503 with Retry-After: the policy retries the read as it would a PATCH.
  reply_facts busy;
  busy.status = 503;
  busy.retry_after = "7";
  judge_read_reply("job-1", busy, parser, reader, scrubber, utc, out, doc);
  CHECK(out.verdict == reply_verdict::policy_decides);
  CHECK(out.outcome == attempt_outcome::http(503));
  CHECK(out.retry_after == std::chrono::milliseconds(7000));

  // A read that went unanswered changes nothing: never in doubt.
  reply_facts facts;
  facts.transport = error_class::timeout;
  facts.request_written = true;
  judge_read_reply("job-1", facts, parser, reader, scrubber, utc, out, doc);
  CHECK_FALSE(out.in_doubt);
}
