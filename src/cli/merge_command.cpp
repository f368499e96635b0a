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

} // namespace

int run_merge(const merge_options& options) {
  if (options.inputs.empty() && options.summaries.empty()) {
    std::fprintf(stderr, "jobpatch: merge needs results files (RESULTS...) or --summaries\n");
    return exit_usage;
  }
  if (options.summaries.empty() != options.summary_json.empty()) {
    std::fprintf(stderr, "jobpatch: --summaries and --summary-json go together: the shards' "
                         "summaries in, the merged summary out\n");
    return exit_usage;
  }
  if (options.inputs.empty() && !options.results.empty()) {
    std::fprintf(stderr, "jobpatch: --results names the merged results: name the shards' "
                         "results files to merge before it\n");
    return exit_usage;
  }
  // The merged results go to standard output unless --results names a file.
  std::string results_out = options.inputs.empty()    ? std::string()
                            : options.results.empty() ? std::string("-")
                                                      : options.results;
  std::vector<named_file> inputs;
  for (const auto& path : options.inputs) inputs.push_back({"an input", path, nullptr});
  for (const auto& path : options.summaries) inputs.push_back({"--summaries", path, nullptr});
  std::vector<named_file> outputs = {{"--results", results_out, nullptr},
                                     {"--summary-json", options.summary_json, nullptr}};
  if (std::string why = check_outputs(inputs, outputs); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s\n", why.c_str());
    return exit_usage;
  }
  for (const auto& path : {results_out, options.summary_json})
    if (!options.force && holds_data(path)) {
      std::fprintf(stderr, "jobpatch: %s already holds data; pass --force to overwrite it\n",
                   path.c_str());
      return exit_usage;
    }

  // Read and check everything first.
  merged_summary summary;
  if (!options.summaries.empty()) {
    std::vector<summary_input> texts;
    try {
      for (const auto& path : options.summaries) texts.push_back({path, read_whole(path)});
      summary = merge_summaries(texts);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "jobpatch: %s; nothing was written\n", e.what());
      return exit_usage;
    }
    for (const auto& warning : summary.warnings)
      std::fprintf(stderr, "jobpatch: warning: %s\n", warning.c_str());
  }
  results_merge merge;
  if (!options.inputs.empty()) {
    try {
      for (const auto& path : options.inputs) merge.add_file(path);
      merge.finish();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "jobpatch: %s; nothing was written\n", e.what());
      return exit_usage;
    }
    for (const auto& note : merge.notes())
      std::fprintf(stderr, "jobpatch: note: %s\n", note.c_str());
    if (merge.problem_count()) {
      for (const auto& problem : merge.problems()) std::fprintf(stderr, "%s\n", problem.c_str());
      if (merge.problem_count() > merge.problems().size())
        std::fprintf(
            stderr, "... and %llu more problems\n",
            static_cast<unsigned long long>(merge.problem_count() - merge.problems().size()));
      std::fprintf(stderr,
                   "jobpatch: the results cannot be merged (%llu problems); nothing was "
                   "written\n",
                   static_cast<unsigned long long>(merge.problem_count()));
      return exit_usage;
    }
  }

  // Each line a finished run counts has one record (a resumed shard's skipped lines keep
  // their earlier ok record): a difference means results and summaries of different runs.
  if (!options.inputs.empty() && !options.summaries.empty() && !summary.stopped &&
      merge.lines() != summary.total)
    std::fprintf(stderr,
                 "jobpatch: warning: the results hold %llu lines but the summaries count %llu: "
                 "are they of the same runs?\n",
                 static_cast<unsigned long long>(merge.lines()),
                 static_cast<unsigned long long>(summary.total));
  try {
    if (!results_out.empty()) {
      file_writer out(results_out, file_writer::mode::truncate);
      merge.write(out);
      out.close();
      std::fprintf(stderr,
                   "jobpatch: merged %llu records of %zu files into %llu lines (%llu replaced by a "
                   "later record of their line, %llu invalid lines recorded by every shard "
                   "written once)\n",
                   static_cast<unsigned long long>(merge.records_read()), options.inputs.size(),
                   static_cast<unsigned long long>(merge.lines()),
                   static_cast<unsigned long long>(merge.superseded()),
                   static_cast<unsigned long long>(merge.in_every_shard()));
    }
    if (!options.summary_json.empty()) {
      file_writer out(options.summary_json, file_writer::mode::truncate);
      out.write(summary.json);
      out.close();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_output_failed;
  }
  return exit_ok;
}

} // namespace jobpatch::cli
