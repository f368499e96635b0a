// Fuzz entry for job_document_reader: a GET answer parsed, compared with a fixed valid
// update of each op, and turned into the undo line of each.

#include "fuzz_entries.hpp"

#include <jobpatch/wire/job_document.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace jobpatch::fuzz {

namespace {

// One valid update per op (bodies pass body_validator).
const std::array<operation, op_kind_count>& updates() {
  static const std::array<operation, op_kind_count> ops = [] {
    std::array<operation, op_kind_count> o;
    o[0] = {1, "job-1", op_kind::datasource,
            R"({"dataSource":{"dataSourceDescriptor":"s3","params":{"b":[1,2.5]}},)"
            R"("dataDestination":{"dataSourceDescriptor":"bucket"}})",
            0};
    o[1] = {2, "job-1", op_kind::params,
            R"({"preset":"fast","app":{"q":"high"},"partitioner":{},"assembler":{"x":null}})", 0};
    o[2] = {3, "job-1", op_kind::jobname, R"("nightly-42")", 0};
    o[3] = {4, "job-1", op_kind::configs,
            R"({"taskTimeout":"600","jobTimeout":3600,"isTestJob":false})", 0};
    return o;
  }();
  return ops;
}

} // namespace

int job_document_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static job_document_reader reader;
  bool in_place = (data[0] & 1) != 0;
  std::size_t n = size - 1;
  auto buffer = std::make_unique<char[]>(n + (in_place ? 64 : 1));
  std::copy(data + 1, data + size, buffer.get());
  if (in_place) std::memset(buffer.get() + n, ' ', 64);
  std::string_view body(buffer.get(), n);

  job_document doc;
  std::string error;
  if (!reader.parse(body, in_place ? n + 64 : n, doc, error)) {
    require(!error.empty(), "no document and no error");
    return 0;
  }
  std::vector<field_change> changes;
  for (const auto& op : updates()) {
    require(reader.compare(op, doc, changes), "a valid update could not be compared");
    require(!changes.empty(), "an update that sets nothing");
    for (const auto& c : changes) require(c.changes || c.from, "an absent field unchanged");
    std::vector<job_field> absent;
    field_mask taken = 0;
    std::string line = undo_line(op, changes, 0, absent, taken);
    require(line.empty() == (taken == 0), "undo line without fields, or fields without one");
    require(line.find('\n') == std::string::npos, "an undo line spans lines");
    // The line is JSON whatever the values (a second parser's opinion); the validator may
    // refuse a value's type (the engine checks and says so), never lose the job or op.
    if (line.empty()) continue;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(line, ec);
    require(!ec && parsed.is_object(), "an undo line that is not JSON");
    require(parsed.at("jobId") == op.job_id.c_str() &&
                parsed.at("op") == std::string(to_string(op.op)).c_str(),
            "an undo line for another job or op");
  }
  return 0;
}

} // namespace jobpatch::fuzz
