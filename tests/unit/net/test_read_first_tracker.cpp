#include "net/read_first_tracker.hpp"

#include <jobpatch/results/output_thread.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;
using jobpatch::net::read_first_tracker;
using jobpatch::net::slot;
using step = read_first_tracker::next_step;

namespace {

const std::string document =
    R"({"job":{"id":"job-1","name":"nightly","config":{"taskTimeout":300}}})";

struct fixture {
  job_document_reader reader;
  secret_scrubber scrubber;
  std::vector<std::string> notes;

  job_document read() {
    job_document doc;
    std::string error;
    REQUIRE(reader.parse(document, 0, doc, error));
    return doc;
  }
  // The slot of update `line` of job-1 (not its only one) setting its name to `name`.
  static slot name_update(std::uint64_t line, const std::string& name) {
    slot s;
    s.op.line = line;
    s.op.job_id = "job-1";
    s.op.op = op_kind::jobname;
    s.op.body = "\"" + name + "\"";
    return s;
  }
};

} // namespace

TEST_CASE("read_first_tracker: a plan compares a job's later line with what its earlier set") {
  fixture f;
  output_thread out;
  plan_sink plan(out, "", "");
  read_first_tracker tracker({.plan = true}, &plan, f.scrubber, f.notes, {});
  slot first = fixture::name_update(1, "renamed");
  auto doc = f.read();
  CHECK(tracker.after_read(first, doc, f.reader) == step::planned);
  tracker.on_finish(first, outcome::ok);
  // The server still says "nightly": the plan knows line 1 would have renamed it.
  slot second = fixture::name_update(2, "renamed");
  doc = f.read();
  CHECK(tracker.after_read(second, doc, f.reader) == step::planned);
  tracker.on_finish(second, outcome::ok);
  CHECK(plan.count(plan_outcome::change) == 1);
  CHECK(plan.count(plan_outcome::unchanged) == 1);
}

TEST_CASE("read_first_tracker: --skip-unchanged finishes a line the job already holds") {
  fixture f;
  read_first_tracker tracker({.skip_unchanged = true}, nullptr, f.scrubber, f.notes, {});
  slot same = fixture::name_update(1, "nightly");
  auto doc = f.read();
  CHECK(tracker.after_read(same, doc, f.reader) == step::unchanged);
  slot other = fixture::name_update(2, "renamed");
  doc = f.read();
  CHECK(tracker.after_read(other, doc, f.reader) == step::patch);
}

TEST_CASE("read_first_tracker: the undo file restores a field once, from before the run") {
  fixture f;
  read_first_tracker tracker({.undo = true}, nullptr, f.scrubber, f.notes, {});
  slot first = fixture::name_update(1, "renamed");
  auto doc = f.read();
  REQUIRE(tracker.after_read(first, doc, f.reader) == step::patch);
  CHECK(first.undo_line.find("\"nightly\"") != std::string::npos);
  SUBCASE("written ahead of the PATCH: the job's later lines never restore the name again") {
    // Whatever became of the PATCH: a later line's "old" value may be this run's.
    for (outcome result : {outcome::ok, outcome::failed}) {
      CAPTURE(to_string(result));
      read_first_tracker each({.undo = true}, nullptr, f.scrubber, f.notes, {});
      slot one = fixture::name_update(1, "renamed");
      doc = f.read();
      REQUIRE(each.after_read(one, doc, f.reader) == step::patch);
      REQUIRE(!one.undo_line.empty());
      each.on_finish(one, result);
      slot second = fixture::name_update(2, "again");
      doc = f.read();
      REQUIRE(each.after_read(second, doc, f.reader) == step::patch);
      CHECK(second.undo_line.empty());
    }
  }
  SUBCASE("a job with one update is not remembered") {
    slot only = fixture::name_update(4, "renamed");
    only.op.only_update = true;
    read_first_tracker single({.undo = true}, nullptr, f.scrubber, f.notes, {});
    doc = f.read();
    REQUIRE(single.after_read(only, doc, f.reader) == step::patch);
    slot next = fixture::name_update(5, "again");
    doc = f.read();
    REQUIRE(single.after_read(next, doc, f.reader) == step::patch);
    CHECK(!next.undo_line.empty());
  }
  SUBCASE("earlier runs restore the name already (--resume): no undo line") {
    read_first_tracker resumed({.undo = true}, nullptr, f.scrubber, f.notes,
                               {{"job-1", fields_set_by(first.op)}});
    slot again = fixture::name_update(3, "renamed");
    doc = f.read();
    REQUIRE(resumed.after_read(again, doc, f.reader) == step::patch);
    CHECK(again.undo_line.empty());
  }
}

// Issue 24: a job field holding the key or a token (a server echoing it) went in clear
// into the undo file. The line is not sent, and no field of the job is marked restored.
TEST_CASE("read_first_tracker: an old value holding a secret in any spelling is never undone") {
  fixture f;
  f.scrubber.add_permanent("k3y/5f1e-9c2d");
  read_first_tracker tracker({.undo = true}, nullptr, f.scrubber, f.notes, {});
  for (std::string held : {R"(k3y/5f1e-9c2d)", R"(x k3y\/5f1e\u002D9c2d)", "k3y%2F5f1e-9c2d"}) {
    INFO(held);
    job_document doc = f.read();
    doc.values[static_cast<std::size_t>(job_field::name)] = "\"" + held + "\"";
    slot s = fixture::name_update(1, "renamed");
    CHECK(tracker.after_read(s, doc, f.reader) == step::secret_in_undo);
    CHECK(s.undo_line.empty());
    CHECK(s.undo_fields == 0);
  }
  // The job's name was never marked restored: the next line's undo line still holds it.
  slot next = fixture::name_update(2, "renamed");
  auto doc = f.read();
  REQUIRE(tracker.after_read(next, doc, f.reader) == step::patch);
  CHECK(next.undo_line.find("\"nightly\"") != std::string::npos);
}
