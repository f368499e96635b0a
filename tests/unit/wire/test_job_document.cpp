#include <jobpatch/wire/job_document.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {

operation update(op_kind kind, std::string body, std::string id = "job-1") {
  operation op;
  op.line = 3;
  op.job_id = std::move(id);
  op.op = kind;
  op.body = std::move(body);
  return op;
}

// A GET answer as the API documents it, with fields jobpatch does not know around the
// ones it reads, int64 as strings and some whitespace.
const std::string answer = R"({"job": {"id": "job-1", "templateId": "t", "name": "nightly",
  "config": {"taskTimeout": "300", "jobTimeout": 3600, "isTestJob": false, "extra": [1, 2]},
  "state": "JOB_STATE_NEW",
  "dataSource": {"dataSourceDescriptor": "url", "params": {"url": "https://x/y"}},
  "params": {"preset": "fast", "partitioner": {"n": 2}, "app": {"b": 1, "a": {"c": [1, 2.5]}}},
  "future": {"deep": {"x": null}}},
  "templateInfo": {"id": "t"}})";

// Reads `body` as a GET answer: whether it reads, and why not in `error`.
bool read(const std::string& body, job_document& doc, std::string& error) {
  job_document_reader reader;
  return reader.parse(body, 0, doc, error);
}

job_document parsed(const std::string& body) {
  job_document doc;
  std::string error;
  REQUIRE(read(body, doc, error));
  return doc;
}

// Why reading `body` as a GET answer fails (it must).
std::string refusal(const std::string& body) {
  job_document doc;
  std::string error;
  CHECK_FALSE(read(body, doc, error));
  return error;
}

} // namespace

TEST_CASE("job_document: reads every field a PATCH sets, compact, and ignores the rest") {
  job_document doc = parsed(answer);
  CHECK(doc.id == "job-1");
  CHECK(doc.state == "JOB_STATE_NEW");
  CHECK(doc.value(job_field::name) == "\"nightly\"");
  CHECK(doc.value(job_field::task_timeout) == "\"300\"");
  CHECK(doc.value(job_field::job_timeout) == "3600");
  CHECK(doc.value(job_field::is_test_job) == "false");
  CHECK(doc.value(job_field::preset) == "\"fast\"");
  CHECK(doc.value(job_field::partitioner) == R"({"n":2})");
  CHECK_FALSE(doc.value(job_field::assembler)); // missing: absent
  CHECK(doc.value(job_field::app) == R"({"b":1,"a":{"c":[1,2.5]}})");
  CHECK(doc.value(job_field::data_source) ==
        R"({"dataSourceDescriptor":"url","params":{"url":"https://x/y"}})");
  CHECK_FALSE(doc.value(job_field::data_destination));
}

TEST_CASE("job_document: null is absent, and what is not a job document is refused") {
  job_document doc = parsed(R"({"job":{"id":"j","name":null,"config":null}})");
  CHECK_FALSE(doc.value(job_field::name));
  CHECK_FALSE(doc.value(job_field::task_timeout));

  job_document_reader reader;
  std::string error;
  CHECK_FALSE(reader.parse("not json", 0, doc, error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(reader.parse(R"({"jobs":[]})", 0, doc, error));
  CHECK_FALSE(reader.parse(R"([1])", 0, doc, error));
  CHECK_FALSE(reader.parse(R"({"job":{"id":"j","name":)", 0, doc, error)); // cut short
  // A value jobpatch would show or restore must be JSON, not only look like it (found by
  // fuzzing: On Demand checks a value only as far as it reads it).
  CHECK_FALSE(reader.parse(R"({"job":{"id":"j","config":{"isTestJob":fal}}})", 0, doc, error));
  CHECK(error.find("config") != std::string::npos);
  CHECK_FALSE(reader.parse(R"({"job":{"id":"j","name":nul}})", 0, doc, error));
  CHECK_FALSE(reader.parse(R"({"job":{"id":"j","dataSource":{"a":tru}}})", 0, doc, error));
  CHECK(reader.parse(R"({"job":{"id":"j","name":5,"config":{"taskTimeout":1e400x}}})", 0, doc,
                     error) == false);
  // Reused after a failure: earlier values do not leak into the next document.
  CHECK(reader.parse(R"({"job":{"id":"k"}})", 0, doc, error));
  CHECK(doc.id == "k");
  CHECK_FALSE(doc.value(job_field::name));
}

TEST_CASE("job_document: compare lists the fields a line sets, equal by meaning") {
  job_document doc = parsed(answer);
  job_document_reader reader;
  std::vector<field_change> changes;

  // int64 as a string equals the number; 3600.0 equals 3600; a real change is seen.
  REQUIRE(reader.compare(
      update(op_kind::configs, R"({"taskTimeout": 300, "jobTimeout": 3600.0, "isTestJob": true})"),
      doc, changes));
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].field == job_field::task_timeout);
  CHECK_FALSE(changes[0].changes);
  CHECK(changes[0].from == "\"300\"");
  CHECK(changes[0].to == "300");
  CHECK_FALSE(changes[1].changes);
  CHECK(changes[2].changes);
  CHECK(changes[2].to == "true");
  CHECK(any_change(changes));

  REQUIRE(reader.compare(update(op_kind::configs, R"({"taskTimeout":"600"})"), doc, changes));
  CHECK(changes[0].changes);

  // Objects: key order does not matter, a key more or less does; "1" is not 1 there.
  REQUIRE(reader.compare(update(op_kind::params, R"({"app":{"a":{"c":[1,2.5]},"b":1.0}})"), doc,
                         changes));
  CHECK_FALSE(any_change(changes));
  REQUIRE(reader.compare(update(op_kind::params, R"({"app":{"a":{"c":[1,2.5]}}})"), doc, changes));
  CHECK(any_change(changes));
  REQUIRE(reader.compare(update(op_kind::params, R"({"app":{"a":{"c":[1,2.5]},"b":"1"}})"), doc,
                         changes));
  CHECK(any_change(changes));
  REQUIRE(reader.compare(update(op_kind::params, R"({"app":{"a":{"c":[2.5,1]},"b":1}})"), doc,
                         changes));
  CHECK(any_change(changes)); // arrays keep their order

  // A field absent from the document always changes.
  REQUIRE(reader.compare(
      update(op_kind::datasource, R"({"dataDestination":{"dataSourceDescriptor":"bucket"}})"), doc,
      changes));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].field == job_field::data_destination);
  CHECK_FALSE(changes[0].from);
  CHECK(changes[0].changes);

  REQUIRE(reader.compare(update(op_kind::jobname, R"("nightly")"), doc, changes));
  CHECK_FALSE(any_change(changes));
  REQUIRE(reader.compare(update(op_kind::jobname, R"("Nightly")"), doc, changes));
  CHECK(any_change(changes));
  CHECK(field_label(changes[0].field) == "jobname");
}

TEST_CASE("job_document: the undo line restores exactly the fields the line sets") {
  job_document doc = parsed(answer);
  job_document_reader reader;
  std::vector<field_change> changes;
  std::vector<job_field> absent;
  field_mask taken = 0;

  REQUIRE(reader.compare(update(op_kind::configs, R"({"isTestJob":true,"taskTimeout":600})"), doc,
                         changes));
  CHECK(undo_line(update(op_kind::configs, "{}"), changes, 0, absent, taken) ==
        R"({"jobId":"job-1","op":"configs","body":{"isTestJob":false,"taskTimeout":"300"}})");
  CHECK(taken == (bit_of(job_field::is_test_job) | bit_of(job_field::task_timeout)));
  CHECK(absent.empty());

  // A field an earlier undo line restores already is left out; none left: no line.
  CHECK(undo_line(update(op_kind::configs, "{}"), changes, bit_of(job_field::is_test_job), absent,
                  taken) == R"({"jobId":"job-1","op":"configs","body":{"taskTimeout":"300"}})");
  CHECK(undo_line(update(op_kind::configs, "{}"), changes,
                  bit_of(job_field::is_test_job) | bit_of(job_field::task_timeout), absent, taken)
            .empty());

  // Absent fields cannot be restored: they are named, the others still are.
  REQUIRE(reader.compare(update(op_kind::datasource,
                                R"({"dataSource":{"dataSourceDescriptor":"bypass"},)"
                                R"("dataDestination":{"dataSourceDescriptor":"bucket"}})"),
                         doc, changes));
  CHECK(undo_line(update(op_kind::datasource, "{}"), changes, 0, absent, taken) ==
        R"({"jobId":"job-1","op":"datasource","body":{"dataSource":)"
        R"({"dataSourceDescriptor":"url","params":{"url":"https://x/y"}}}})");
  REQUIRE(absent.size() == 1);
  CHECK(absent[0] == job_field::data_destination);

  // jobname: the body is the old name itself; a job id is escaped as JSON.
  job_document named = parsed(R"({"job":{"id":"a\"b","name":"x\ny"}})");
  REQUIRE(reader.compare(update(op_kind::jobname, R"("new")", "a\"b"), named, changes));
  CHECK(undo_line(update(op_kind::jobname, R"("new")", "a\"b"), changes, 0, absent, taken) ==
        R"({"jobId":"a\"b","op":"jobname","body":"x\ny"})");
}

TEST_CASE("job_document: fields_set_by names the fields of a body") {
  CHECK(fields_set_by(update(op_kind::jobname, R"("x")")) == bit_of(job_field::name));
  CHECK(fields_set_by(update(op_kind::params, R"({"app":{},"preset":"p"})")) ==
        (bit_of(job_field::app) | bit_of(job_field::preset)));
  CHECK(fields_set_by(update(op_kind::params, "not json")) == 0);
}

// The last of two values would win with the fields between them kept: another job's values
// in the undo file. Which one the server meant cannot be told, so neither is taken.
TEST_CASE("job_document: a key twice in the job object makes the answer unusable") {
  CHECK(refusal(R"({"job":{"id":"job-2","name":"theirs","id":"job-1"}})") ==
        R"(the answer has a duplicate key "id" (in job))");
  CHECK(refusal(R"({"job":{"id":"job-1","name":"a","state":"S","name":"b"}})") ==
        R"(the answer has a duplicate key "name" (in job))");
  // A reader that refused one answer reads the next.
  job_document_reader reader;
  job_document doc;
  std::string error;
  CHECK_FALSE(reader.parse(R"({"job":{"id":"job-2","id":"job-1"}})", 0, doc, error));
  REQUIRE(reader.parse(R"({"job":{"id":"job-1","name":"n"}})", 0, doc, error));
  CHECK(doc.id == "job-1");
  CHECK(doc.value(job_field::name) == "\"n\"");
}

TEST_CASE("job_document: a second job object, or any key twice at the top level, is refused") {
  CHECK(refusal(R"({"job":{"id":"job-2","name":"theirs"},"job":{"id":"job-1"}})") ==
        R"(the answer has a duplicate key "job" (at the top level))");
  CHECK(refusal(R"({"templateInfo":{},"job":{"id":"job-1"},"templateInfo":{"id":"t"}})") ==
        R"(the answer has a duplicate key "templateInfo" (at the top level))");
}

TEST_CASE("job_document: a key twice in any object inside the job, at any depth, is refused") {
  // Three levels into params, in a field the reader keeps whole (params.app).
  CHECK(refusal(R"({"job":{"id":"job-1","params":{"app":{"x":{"y":{"n":1,"n":2}}}}}})") ==
        R"(the answer has a duplicate key "n" (in job.params.app.x.y))");
  CHECK(refusal(R"({"job":{"id":"job-1","config":{"taskTimeout":1,"taskTimeout":"2"}}})") ==
        R"(the answer has a duplicate key "taskTimeout" (in job.config))");
  // In fields the reader skips unread, arrays included.
  CHECK(refusal(R"({"job":{"id":"job-1","future":{"list":[{},{"a":1,"b":[],"a":2}]}}})") ==
        R"(the answer has a duplicate key "a" (in job.future.list[1]))");
  CHECK(refusal(R"({"job":{"id":"job-1","regions":[[{"x":{"z":0,"z":0}}]]}})") ==
        R"(the answer has a duplicate key "z" (in job.regions[0][0].x))");
}

TEST_CASE("job_document: keys are compared as unescaped") {
  CHECK(refusal(R"({"job":{"id":"job-2","\u0069d":"job-1"}})") ==
        R"(the answer has a duplicate key "id" (in job))");
  CHECK(refusal(R"({"job":{"id":"job-1","params":{"app":{"caf\u00e9":1,"caf)"
                "\xC3\xA9"
                R"(":2}}}})") ==
        "the answer has a duplicate key \"caf\xC3\xA9\" (in job.params.app)");
  CHECK(refusal(R"({"job":{"id":"job-1","dataSource":{"a\"b":1,"a\u0022b":2}}})") ==
        R"(the answer has a duplicate key "a\"b" (in job.dataSource))");
}

TEST_CASE("job_document: one key in different objects is no duplicate") {
  job_document doc = parsed(
      R"({"id":"top","job":{"id":"job-1","name":"n","params":{"preset":"p","app":{"name":"a",)"
      R"("id":1,"x":{"name":2,"x":{"name":3}}}},"dataSource":{"params":{"name":1,"params":{}}},)"
      R"("list":[{"name":1,"id":1},{"name":2,"id":2}],"job":{"job":{}}},)"
      R"("templateInfo":{"id":"t","name":"n","job":{}}})");
  CHECK(doc.id == "job-1");
  CHECK(doc.value(job_field::name) == "\"n\"");
  CHECK(doc.value(job_field::preset) == "\"p\"");
  // Keys that differ in one byte, in case or in length are different keys.
  doc = parsed(R"({"job":{"id":"job-1","ID":"x","id ":"y","i":"z","":1,"d":2}})");
  CHECK(doc.id == "job-1");
  // An object of many keys (compared another way than a few).
  std::string many = R"({"job":{"id":"job-1","app":{)";
  for (int i = 0; i < 200; ++i) many += R"("k)" + std::to_string(i) + R"(":0,)";
  CHECK(parsed(many + R"("k":0}}})").id == "job-1");
  CHECK(refusal(many + R"("k17":0}}})") == R"(the answer has a duplicate key "k17" (in job.app))");
}

TEST_CASE("job_document: an answer nested deeper than 1024 levels is not read") {
  auto nested = [](std::size_t levels) {
    return R"({"job":{"id":"job-1","x":)" + std::string(levels, '[') + std::string(levels, ']') +
           "}}";
  };
  CHECK(parsed(nested(1000)).id == "job-1");
  std::string objects = R"({"job":{"id":"job-1","x":)";
  for (int i = 0; i < 1000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(1000, '}') + "}}";
  CHECK(parsed(objects).id == "job-1");
  // Each level of an answer is a level of the key check's recursion: a 2 MiB answer would
  // overflow the stack.
  CHECK(refusal(nested(1'000'000)) == R"(the answer has no readable "job" object)");
}
