// `jobpatch merge`: the results files and summary JSONs of a sharded run's shards combined
// into one per-line results file and one summary. Everything is read and checked before
// anything is written: unusable input (exit 2) leaves no half-written output.

#include "cli/commands.hpp"
#include "cli/output_guard.hpp"

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/results_merge.hpp>
#include <jobpatch/stats/summary_merge.hpp>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include <sys/stat.h>

namespace jobpatch::cli {
namespace {

// A summary JSON is small: read whole. Throws std::system_error naming the file.
std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::system_error(errno, std::generic_category(), "cannot read " + path);
  return std::move(text).str();
}

bool holds_data(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

// The usage checks; returns where the merged results go: "-" (standard output) unless
// --results names a file, empty when no results are merged.
std::string check_merge_options(const merge_options& options) {
  if (options.inputs.empty() && options.summaries.empty())
    refuse("merge needs results files (RESULTS...) or --summaries");
  if (options.summaries.empty() != options.summary_json.empty())
    refuse("--summaries and --summary-json go together: the shards' summaries in, the merged "
           "summary out");
  if (options.inputs.empty() && !options.results.empty())
    refuse("--results names the merged results: name the shards' results files to merge "
           "before it");
  std::string results_out = options.inputs.empty()    ? std::string()
                            : options.results.empty() ? std::string("-")
                                                      : options.results;
  std::vector<named_file> inputs;
  for (const auto& path : options.inputs) inputs.push_back({"an input", path, nullptr});
  for (const auto& path : options.summaries) inputs.push_back({"--summaries", path, nullptr});
  check_outputs(
      inputs,
      {{"--results", results_out, nullptr}, {"--summary-json", options.summary_json, nullptr}}, {},
      {"--results", "--summary-json"});
  for (const auto& path : {results_out, options.summary_json})
    if (!options.force && holds_data(path))
      refuse(path + " already holds data; pass --force to overwrite it");
  return results_out;
}

merged_summary read_summaries(const std::vector<std::string>& paths) {
  merged_summary summary;
  if (paths.empty()) return summary;
  std::vector<summary_input> texts;
  try {
    for (const auto& path : paths) texts.push_back({path, read_whole(path)});
    summary = merge_summaries(texts);
  } catch (const std::exception& e) {
    refuse(std::string(e.what()) + "; nothing was written");
  }
  for (const auto& warning : summary.warnings)
    std::fprintf(stderr, "jobpatch: warning: %s\n", warning.c_str());
  return summary;
}

// Reads every shard's results into `merge`; refuses (exit 2) input that cannot be merged,
// after listing the first problems.
void read_results(const std::vector<std::string>& paths, results_merge& merge) {
  if (paths.empty()) return;
  try {
    for (const auto& path : paths) merge.add_file(path);
    merge.finish();
  } catch (const std::exception& e) {
    refuse(std::string(e.what()) + "; nothing was written");
  }
  for (const auto& note : merge.notes()) std::fprintf(stderr, "jobpatch: note: %s\n", note.c_str());
  if (merge.problem_count() == 0) return;
  for (const auto& problem : merge.problems()) std::fprintf(stderr, "%s\n", problem.c_str());
  if (merge.problem_count() > merge.problems().size())
    std::fprintf(stderr, "... and %llu more problems\n",
                 static_cast<unsigned long long>(merge.problem_count() - merge.problems().size()));
  refuse("the results cannot be merged (" + std::to_string(merge.problem_count()) +
         " problems); nothing was written");
}

// Writes the merged results and summary, each replacing an earlier file at once (a file
// that cannot be written keeps what it held); an output that cannot be written is
// cli_error exit 4.
void write_merged(const merge_options& options, const std::string& results_out,
                  results_merge& merge, const merged_summary& summary) {
  try {
    if (!results_out.empty()) {
      replacing_file out(results_out);
      merge.write(out.out());
      out.commit();
      std::fprintf(stderr,
                   "jobpatch: merged %llu records of %zu files into %llu lines (%llu replaced by a "
                   "later record of their line, %llu invalid lines recorded by every shard "
                   "written once)\n",
                   static_cast<unsigned long long>(merge.records_read()), options.inputs.size(),
                   static_cast<unsigned long long>(merge.lines()),
                   static_cast<unsigned long long>(merge.superseded()),
                   static_cast<unsigned long long>(merge.in_every_shard()));
    }
    if (!options.summary_json.empty()) write_file_atomically(options.summary_json, summary.json);
  } catch (const std::exception& e) {
    throw cli_error(exit_output_failed, e.what());
  }
}

} // namespace

int run_merge(const merge_options& options) {
  std::string results_out = check_merge_options(options);
  // Read and check everything first.
  merged_summary summary = read_summaries(options.summaries);
  results_merge merge;
  read_results(options.inputs, merge);
  // Each line a finished run counts has one record (a resumed shard's skipped lines keep
  // their earlier ok record): a difference means results and summaries of different runs.
  if (!options.inputs.empty() && !options.summaries.empty() && !summary.stopped &&
      merge.lines() != summary.total)
    std::fprintf(stderr,
                 "jobpatch: warning: the results hold %llu lines but the summaries count %llu: "
                 "are they of the same runs?\n",
                 static_cast<unsigned long long>(merge.lines()),
                 static_cast<unsigned long long>(summary.total));
  write_merged(options, results_out, merge, summary);
  return exit_ok;
}

} // namespace jobpatch::cli
