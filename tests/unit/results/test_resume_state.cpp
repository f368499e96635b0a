#include <jobpatch/results/resume_state.hpp>

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/results/result_record.hpp>

#include <doctest/doctest.h>

#include "unit/temp_files.hpp"

#include <cstdio>
#include <string>

using namespace jobpatch;
using namespace jobpatch::test;

namespace {
using verdict = resume_state::verdict;

// The key of update `seq` of job `job` with fingerprint `fp` (line numbers do not matter).
resume_state::key key_of(std::string_view job, std::uint32_t seq, std::uint64_t fp,
                         std::uint64_t line = 999, std::uint64_t line_fp = 0) {
  return {job_hash_of(job), seq, fp, line, line_fp};
}
} // namespace

TEST_CASE("resume_state: an update is known by job, seq and fingerprint, not by line") {
  auto path = temp_file(
      R"({"line":1,"jobId":"a","op":"configs","seq":1,"outcome":"ok","status":200,"attempts":1,"fp":"00000000000000aa"})"
      "\n"
      R"({"line":2,"jobId":"b","op":"configs","seq":1,"outcome":"failed","status":503,"attempts":5,"fp":"00000000000000bb"})"
      "\n"
      R"({"line":3,"jobId":"a","op":"jobname","seq":2,"outcome":"ok","fp":"00000000000000cc"})"
      "\n"
      R"({"line":3,"jobId":"a","op":"jobname","seq":2,"outcome":"ok","fp":"00000000000000cc"})"
      "\n"
      R"({"line":4,"jobId":"c","op":"configs","seq":1,"outcome":"skipped","fp":"00000000000000dd"})"
      "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(notes.empty());
  CHECK(state.ok_records() == 2); // line 3 recorded twice counts once
  CHECK(state.permanent_failures() == 0);
  // Any line number: lines of other jobs may have been inserted or removed.
  CHECK(state.check(key_of("a", 1, 0xaa, 1)).result == verdict::applied);
  CHECK(state.check(key_of("a", 1, 0xaa, 57)).result == verdict::applied);
  CHECK(state.check(key_of("a", 2, 0xcc)).result == verdict::applied);
  // Another update at the same place of the job: the manifest changed there.
  CHECK(state.check(key_of("a", 1, 0xab)).result == verdict::changed);
  CHECK(state.check(key_of("a", 2, 0x01)).result == verdict::changed);
  // The same content at another place of the job (reordered): not applied.
  CHECK(state.check(key_of("a", 3, 0xaa)).result == verdict::not_recorded);
  CHECK(state.check(key_of("x", 1, 0xaa)).result == verdict::not_recorded);
  // A retryable failure, and "skipped" records of older versions, decide nothing.
  CHECK(state.check(key_of("b", 1, 0xbb)).result == verdict::not_recorded);
  CHECK(state.check(key_of("c", 1, 0xdd)).result == verdict::not_recorded);
  CHECK(state.has_ok_records_of("a"));
  CHECK_FALSE(state.has_ok_records_of("b"));
  std::remove(path.c_str());
}

TEST_CASE("resume_state: records without seq (older versions) are matched by line") {
  auto path = temp_file(
      R"({"line":1,"jobId":"a","op":"configs","outcome":"ok","status":200,"fp":"00000000000000aa"})"
      "\n"
      R"({"line":3,"jobId":"c","op":"configs","outcome":"ok","fp":"00000000000000cc"})"
      "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(state.ok_records() == 2);
  CHECK(state.check(key_of("a", 1, 0x1234, 1, 0xaa)).result == verdict::applied);
  CHECK(state.check(key_of("a", 1, 0x1234, 1, 0xab)).result == verdict::changed);
  CHECK(state.check(key_of("c", 1, 0x1234, 4, 0xcc)).result == verdict::not_recorded);
  CHECK(state.has_ok_records_of("c"));
  std::remove(path.c_str());
}

TEST_CASE("resume_state: the last record of an update decides whether it failed for good") {
  auto path = temp_file(
      // 404, then nothing else: failed for good.
      R"({"line":1,"jobId":"gone","op":"configs","seq":1,"outcome":"failed","status":404,"attempts":1,"fp":"0000000000000001"})"
      "\n"
      // Withheld behind it (no attempt).
      R"({"line":2,"jobId":"gone","op":"jobname","seq":2,"outcome":"failed","error":"not sent","fp":"0000000000000002"})"
      "\n"
      // 400, later retried (--retry-failed) and 503: no longer a permanent failure.
      R"({"line":3,"jobId":"b","op":"configs","seq":1,"outcome":"failed","status":400,"attempts":1,"fp":"0000000000000003"})"
      "\n"
      R"({"line":3,"jobId":"b","op":"configs","seq":1,"outcome":"failed","status":503,"attempts":5,"fp":"0000000000000003"})"
      "\n"
      // 403, then ok: applied.
      R"({"line":4,"jobId":"c","op":"configs","seq":1,"outcome":"failed","status":403,"attempts":1,"fp":"0000000000000004"})"
      "\n"
      R"({"line":4,"jobId":"c","op":"configs","seq":1,"outcome":"ok","status":200,"attempts":1,"fp":"0000000000000004"})"
      "\n"
      // 409 is not among the permanent statuses.
      R"({"line":5,"jobId":"d","op":"configs","seq":1,"outcome":"failed","status":409,"attempts":1,"fp":"0000000000000005"})"
      "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(notes.empty());
  CHECK(state.permanent_failures() == 1);
  auto gone = state.check(key_of("gone", 1, 1));
  CHECK(gone.result == verdict::failed_before);
  CHECK(gone.status == 404);
  CHECK(state.check(key_of("gone", 2, 2)).result == verdict::withheld_before);
  // Edited content is a new update: sent.
  CHECK(state.check(key_of("gone", 1, 9)).result == verdict::not_recorded);
  CHECK(state.check(key_of("b", 1, 3)).result == verdict::not_recorded);
  CHECK(state.check(key_of("c", 1, 4)).result == verdict::applied);
  CHECK(state.check(key_of("d", 1, 5)).result == verdict::not_recorded);
  std::remove(path.c_str());
}

TEST_CASE("resume_state: a torn last record is ignored and cut off the file") {
  std::string good = R"({"line":1,"outcome":"ok","fp":"0000000000000001"})"
                     "\n";
  auto path = temp_file(good + R"({"line":2,"outcome":"ok","fp":"00000)");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("torn last record") != std::string::npos);
  CHECK(state.check(key_of("", 0, 0, 1, 1)).result == verdict::applied);
  CHECK(state.check(key_of("", 0, 0, 2, 0)).result == verdict::not_recorded);
  CHECK(slurp(path) == good);
  std::remove(path.c_str());
}

TEST_CASE("resume_state: foreign lines are counted and ignored — a missing file is empty") {
  auto path = temp_file("hello\n{\"something\":1}\n"
                        R"({"line":5,"outcome":"ok","fp":"0000000000000005"})"
                        "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("ignored 2 lines that are not jobpatch result records (first: line 1") == 0);
  CHECK(state.check(key_of("", 0, 0, 5, 5)).result == verdict::applied);
  std::remove(path.c_str());
  notes.clear();
  CHECK(resume_state::load("/tmp/jobpatch-no-such-results", notes).ok_records() == 0);
  CHECK(notes.empty());
}

TEST_CASE("resume_state: a line recorded unchanged (--skip-unchanged) is done, like ok") {
  auto path = temp_file(
      R"({"line":1,"jobId":"a","op":"configs","seq":1,"outcome":"unchanged","status":200,"attempts":1,"fp":"00000000000000aa"})"
      "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(state.ok_records() == 1);
  CHECK(state.check(key_of("a", 1, 0xaa)).result == verdict::applied);
  std::remove(path.c_str());
}

TEST_CASE("cut_torn_tail: a partial last line is cut off, whole lines and a missing file kept") {
  std::string path = temp_file("{\"a\":1}\n{\"b\":");
  CHECK(cut_torn_tail(path) == 5);
  CHECK(slurp(path) == "{\"a\":1}\n");
  CHECK(cut_torn_tail(path) == 0);
  CHECK(slurp(path) == "{\"a\":1}\n");
  std::remove(path.c_str());
  CHECK(cut_torn_tail(path) == 0);
}

TEST_CASE("resume_state: among many interleaved failed records, each update's last one decides") {
  // 40 updates (20 jobs, two each), three failed records apiece, written round by round as
  // a run and its resumed runs would: 120 records, far past the 16 that std::sort leaves
  // to its (stable) insertion sort. Half end with 400 (failed for good), half with 503
  // after a 404 and a 400 (worth retrying): keeping any record but the last gets a verdict
  // or a status wrong.
  const int rounds[2][3] = {{503, 404, 400}, {400, 404, 503}};
  std::string text;
  for (int round = 0; round < 3; ++round)
    for (int job = 0; job < 20; ++job)
      for (int seq = 1; seq <= 2; ++seq) {
        int update = job * 2 + seq - 1;
        char fp[17];
        std::snprintf(fp, sizeof fp, "%016x", 0x100 + update);
        text += R"({"line":)" + std::to_string(update + 1) + R"(,"jobId":"job-)" +
                std::to_string(job) + R"(","op":"configs","seq":)" + std::to_string(seq) +
                R"(,"outcome":"failed","status":)" + std::to_string(rounds[update % 2][round]) +
                R"(,"attempts":1,"fp":")" + fp + "\"}\n";
      }
  auto path = temp_file(text);
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(notes.empty());
  CHECK(state.permanent_failures() == 20);
  for (int job = 0; job < 20; ++job)
    for (std::uint32_t seq = 1; seq <= 2; ++seq) {
      int update = job * 2 + static_cast<int>(seq) - 1;
      CAPTURE(update);
      auto found = state.check(
          key_of("job-" + std::to_string(job), seq, static_cast<std::uint64_t>(0x100 + update)));
      if (update % 2 == 0) {
        CHECK(found.result == verdict::failed_before);
        CHECK(found.status == 400);
      } else {
        CHECK(found.result == verdict::not_recorded);
      }
    }
  std::remove(path.c_str());
}

TEST_CASE("resume_state: a record of max_record_bytes, the writer's bound, is read back") {
  // The writer keeps every record below max_record_bytes (result_record.hpp); the reader
  // takes any record up to it, so a record at the limit still counts.
  std::string head =
      R"({"line":1,"jobId":"a","op":"configs","seq":1,"outcome":"ok","fp":"00000000000000aa","error":")";
  std::string tail = "\"}";
  std::string record = head + std::string(max_record_bytes - head.size() - tail.size(), 'e') + tail;
  REQUIRE(record.size() == max_record_bytes);
  auto path = temp_file(record + "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  INFO(notes.size());
  CHECK(state.ok_records() == 1);
  CHECK(state.check(key_of("a", 1, 0xaa)).result == verdict::applied);
  std::remove(path.c_str());
}
