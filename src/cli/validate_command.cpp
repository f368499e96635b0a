// `jobpatch validate`: checks a whole manifest without sending anything.

#include "cli/commands.hpp"

#include <jobpatch/file_writer.hpp>
#include <jobpatch/line_validator.hpp>
#include <jobpatch/manifest_reader.hpp>
#include <jobpatch/result_record.hpp>

#include <array>
#include <cstdio>
#include <string>

namespace jobpatch::cli {

int run_validate(const validate_options& options) {
  auto reader = manifest_reader::open(options.manifest, options.max_line_bytes
                                                            ? options.max_line_bytes
                                                            : manifest_reader::default_max_line_bytes);
  file_writer results;
  if (!options.results.empty()) results = file_writer(options.results, file_writer::mode::truncate);

  line_validator validator;
  operation op;
  manifest_line line;
  std::array<std::uint64_t, op_kind_count> valid_by_op{};
  std::uint64_t lines = 0, invalid = 0;
  std::string message;

  auto report_invalid = [&](const invalid_line& bad) {
    ++invalid;
    if (invalid <= options.show_errors)
      std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(bad.line),
                   bad.message.c_str());
    if (results.is_open()) {
      result_record r;
      r.line = bad.line;
      r.job_id = bad.job_id;
      r.op = bad.op;
      r.result = outcome::invalid;
      r.error = bad.message;
      append_ndjson(results.buffer(), r);
      results.commit();
    }
  };

  invalid_line oversized;
  while (reader.next(line)) {
    ++lines;
    if (line.oversized) {
      oversized.line = line.number;
      oversized.message = "line is " + std::to_string(line.oversized) +
                          " bytes, over the limit of " + std::to_string(reader.max_line_bytes());
      report_invalid(oversized);
      continue;
    }
    if (validator.validate(line.text, line.readable, line.number, op))
      ++valid_by_op[static_cast<std::size_t>(op.op)];
    else
      report_invalid(validator.error());
  }
  results.close();

  if (invalid > options.show_errors)
    std::fprintf(stderr, "... and %llu more invalid lines\n",
                 static_cast<unsigned long long>(invalid - options.show_errors));
  std::fprintf(stderr,
               "%llu lines: %llu valid (datasource %llu, params %llu, jobname %llu, configs %llu), "
               "%llu invalid\n",
               static_cast<unsigned long long>(lines),
               static_cast<unsigned long long>(lines - invalid),
               static_cast<unsigned long long>(valid_by_op[0]),
               static_cast<unsigned long long>(valid_by_op[1]),
               static_cast<unsigned long long>(valid_by_op[2]),
               static_cast<unsigned long long>(valid_by_op[3]),
               static_cast<unsigned long long>(invalid));
  return invalid == 0 ? exit_ok : exit_usage;
}

} // namespace jobpatch::cli
