// `jobpatch validate`: checks a whole manifest without sending anything.

#include "cli/commands.hpp"
#include "cli/output_guard.hpp"
#include <jobpatch/text/timestamp.hpp>

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/result_record.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch::cli {

void invalid_line_printer::add(const invalid_line& bad) {
  if (++count_ > shown_) return;
  std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(bad.line),
               bad.message.c_str());
  // A compressed or binary input: its first line said so, the others would say nothing.
  if (bad.not_ndjson) shown_ = count_;
}

void invalid_line_printer::print_rest() const {
  if (count_ > shown_)
    std::fprintf(stderr, "... and %llu more invalid lines\n",
                 static_cast<unsigned long long>(count_ - shown_));
}

int run_validate(const validate_options& options) {
  line_source::options source_options;
  source_options.number_updates = false; // nothing is keyed: no records of valid lines
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  manifest_reader reader = manifest_reader::open(options.manifest, source_options.max_line_bytes);
  if (options.ids) reader.use_ids_template(*options.ids);
  line_source source(std::move(reader), source_options);
  // --results follows apply's rules: never the manifest, never earlier results without
  // --force (a later --resume would re-send everything they recorded).
  struct stat manifest_st {};
  bool have_st =
      ::fstat(options.manifest == "-" ? STDIN_FILENO : source.reader().fd(), &manifest_st) == 0;
  check_outputs(
      {{options.ids ? "--ids" : "manifest", options.manifest, have_st ? &manifest_st : nullptr}},
      {{"--results", options.results, nullptr}});
  if (!options.results.empty() && options.results != "-" && !options.force) {
    struct stat st {};
    if (::stat(options.results.c_str(), &st) == 0 && st.st_size > 0)
      refuse(options.results + " already holds records; pass --force to overwrite it");
  }
  file_writer results;
  if (!options.results.empty()) results = file_writer(options.results, file_writer::mode::truncate);

  std::string run_id = make_run_id(); // records carry ts and runId, like apply's
  std::array<std::uint64_t, op_kind_count> valid_by_op{};
  invalid_line_printer printer(options.show_errors);
  source_item item;
  while (source.next(item)) {
    if (item.valid) {
      ++valid_by_op[static_cast<std::size_t>(item.op.op)];
      continue;
    }
    printer.add(item.error);
    if (results.is_open()) {
      result_record r = invalid_record(item.error);
      std::string ts = format_timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
      r.ts = ts;
      r.run_id = run_id;
      append_ndjson(results.buffer(), r);
      results.commit();
    }
  }
  results.close();

  printer.print_rest();
  if (source.lines_read() == 0)
    refuse("the manifest " + options.manifest + " holds no updates (no non-blank line)");
  std::uint64_t invalid = printer.count();
  auto count = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(stderr,
               "%llu lines: %llu valid (datasource %llu, params %llu, jobname %llu, configs %llu), "
               "%llu invalid\n",
               count(source.lines_read()), count(source.lines_read() - invalid),
               count(valid_by_op[0]), count(valid_by_op[1]), count(valid_by_op[2]),
               count(valid_by_op[3]), count(invalid));
  return invalid == 0 ? exit_ok : exit_usage;
}

} // namespace jobpatch::cli
