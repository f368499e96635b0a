#include <jobpatch/results/plan_record.hpp>
#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <doctest/doctest.h>

#include "unit/temp_files.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

using namespace jobpatch;
using namespace jobpatch::test;

namespace {

std::vector<field_change> sample_changes() {
  std::vector<field_change> changes(3);
  changes[0] = {job_field::task_timeout, "300", "600", true};
  changes[1] = {job_field::is_test_job, "false", "false", false};
  changes[2] = {job_field::data_destination, std::nullopt, R"({"dataSourceDescriptor":"s3"})",
                true};
  return changes;
}

} // namespace

TEST_CASE("plan_record: the NDJSON lists the fields that change, with JSON values") {
  auto changes = sample_changes();
  plan_record r;
  r.line = 3;
  r.job_id = "job-7";
  r.op = op_kind::configs;
  r.status = 200;
  r.changes = &changes;
  std::string out;
  append_plan_ndjson(out, r);
  CHECK(out == R"({"line":3,"jobId":"job-7","op":"configs","outcome":"change","status":200,)"
               R"("changes":[{"field":"configs.taskTimeout","from":300,"to":600},)"
               R"({"field":"datasource.dataDestination","to":{"dataSourceDescriptor":"s3"}}]})"
               "\n");
  r.result = plan_outcome::not_found;
  r.status = 404;
  r.changes = nullptr;
  r.error = "HTTP 404: job not found";
  out.clear();
  append_plan_ndjson(out, r);
  CHECK(out == R"({"line":3,"jobId":"job-7","op":"configs","outcome":"not_found","status":404,)"
               R"("error":"HTTP 404: job not found"})"
               "\n");
}

TEST_CASE("plan_record: the text shows one line per changed field, long values cut") {
  auto changes = sample_changes();
  plan_record r;
  r.line = 3;
  r.job_id = "job-7";
  r.op = op_kind::configs;
  r.changes = &changes;
  std::string out;
  append_plan_text(out, r, 20);
  CHECK(out == "line 3 job-7 configs.taskTimeout: 300 → 600\n"
               "line 3 job-7 datasource.dataDestination: (absent) → {\"dataSourceDescript…\n");
  out.clear();
  r.result = plan_outcome::unchanged;
  append_plan_text(out, r);
  CHECK(out == "line 3 job-7 unchanged (configs already holds these values)\n");
  // A job id that could carry control characters to a terminal is shown as JSON.
  out.clear();
  r.job_id = "a\x1b[2Jb";
  r.result = plan_outcome::failed;
  r.error = "HTTP 503";
  append_plan_text(out, r);
  CHECK(out == "line 3 \"a\\u001b[2Jb\" could not be read: HTTP 503\n");
  // A value holding a raw C1 control (the 8-bit CSI) or a byte that is not UTF-8.
  std::vector<field_change> odd(1);
  odd[0] = {job_field::name,
            "\"a\xc2\x9b"
            "2Jb\"",
            "\"x\xffy\"", true};
  r.result = plan_outcome::change;
  r.job_id = "job-7";
  r.changes = &odd;
  out.clear();
  append_plan_text(out, r);
  CHECK(out == "line 3 job-7 jobname: \"a\\u009b2Jb\" → \"x\\u00ffy\"\n");
  // Bidirectional and invisible format controls (issue 24): a U+202E in a job's name would
  // make a terminal show "before" and "after" reversed; each is shown escaped, also in a
  // job id.
  std::vector<field_change> bidi(1);
  bidi[0] = {job_field::name, "\"safe\xe2\x80\xae\"",
             "\"a\xe2\x80\x8b\xef\xbb\xbf\xe2\x81\xa6"
             "b\"",
             true};
  r.changes = &bidi;
  r.job_id = "job\xe2\x80\x8f-7";
  out.clear();
  append_plan_text(out, r);
  CHECK(out == "line 3 \"job\\u200f-7\" jobname: \"safe\\u202e\" → \"a\\u200b\\ufeff\\u2066b\"\n");
}

TEST_CASE("plan_sink: counts every outcome and writes both outputs") {
  auto changes = sample_changes();
  std::string text = temp_path(), output = temp_path();
  {
    output_thread out;
    plan_sink sink(out, text, output);
    plan_record r;
    r.line = 1;
    r.job_id = "j";
    r.op = op_kind::configs;
    r.changes = &changes;
    sink.record(r);
    r.line = 2;
    r.result = plan_outcome::invalid;
    r.error = "bad";
    sink.record(r);
    out.close();
    CHECK(sink.total() == 2);
    CHECK(sink.count(plan_outcome::change) == 1);
    CHECK(sink.totals_text() == "plan: 2 lines: 1 change something (2 fields), 0 unchanged, 0 "
                                "jobs not found, 0 failed reads, 1 invalid\n");
  }
  CHECK(slurp(text).find("line 2 j invalid: bad\n") != std::string::npos);
  CHECK(slurp(output).find(R"({"line":2,"jobId":"j","op":"configs","outcome":"invalid")") !=
        std::string::npos);
  std::remove(text.c_str());
  std::remove(output.c_str());
}

TEST_CASE("plan_sink: the totals as the summary JSON's plan object") {
  auto changes = sample_changes();
  output_thread out;
  plan_sink sink(out, std::string(), std::string()); // counts only
  plan_record r;
  r.job_id = "j";
  r.op = op_kind::configs;
  r.changes = &changes;
  for (auto result : {plan_outcome::change, plan_outcome::change, plan_outcome::unchanged,
                      plan_outcome::not_found, plan_outcome::not_found, plan_outcome::not_found,
                      plan_outcome::failed, plan_outcome::invalid}) {
    ++r.line;
    r.result = result;
    sink.record(r);
  }
  std::string json;
  json_writer writer(json);
  writer.begin_object().string("before", "x");
  sink.totals_json(writer);
  writer.boolean("after", true).end_object();
  // Two lines change two fields each; an unchanged line's fields are not counted.
  CHECK(json == R"({"before":"x","plan":{"total":8,"change":2,"unchanged":1,"notFound":3,)"
                R"("failed":1,"invalid":1,"fieldsChanged":4},"after":true})");
  out.close();
}

TEST_CASE("result_sink: the undo file is private and holds the undo line before the record") {
  std::string results = temp_path(), undo = temp_path();
  ::chmod(undo.c_str(), 0644); // an existing file is made private too
  {
    output_thread out;
    result_sink sink(out, results, file_writer::mode::truncate, "");
    sink.open_undo(undo, file_writer::mode::truncate);
    struct stat st {};
    REQUIRE(::stat(undo.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    result_record r;
    r.line = 1;
    r.job_id = "j";
    sink.record_undo(R"({"jobId":"j","op":"jobname","body":"old"})");
    sink.record(r);
    // Nothing is written until the writer thread gets the batch.
    CHECK(slurp(undo).empty());
    CHECK(slurp(results).empty());
    out.drain(false);
    CHECK(slurp(undo) == "{\"jobId\":\"j\",\"op\":\"jobname\",\"body\":\"old\"}\n");
    CHECK(slurp(results).find("\"line\":1") != std::string::npos);
    r.line = 2;
    sink.record_undo(""); // no undo line: nothing added
    sink.record(r);
    out.close();
  }
  CHECK(slurp(undo) == "{\"jobId\":\"j\",\"op\":\"jobname\",\"body\":\"old\"}\n");
  CHECK(slurp(results).find("\"line\":2") != std::string::npos);
  std::remove(results.c_str());
  std::remove(undo.c_str());
}
