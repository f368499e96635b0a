// jobpatch-make-manifest: writes a deterministic NDJSON manifest mixing the four ops,
// for demos, tests and benchmarks. Streams its output: memory does not grow with --lines.

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/text/json_text.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace {

struct options {
  std::uint64_t lines = 1000;
  std::uint64_t jobs = 100;
  std::uint64_t seed = 1;
  std::string out = "-";
  std::string id_prefix = "job-";
};

// Ids match jobpatch-mock's pre-created jobs: job-0000001 ... job-N.
void append_job_id(std::string& out, const options& o, std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string id =
      o.id_prefix + std::string(digits.size() < 7 ? 7 - digits.size() : 0, '0') + digits;
  jobpatch::append_json_string(out, id);
}

void append_line(std::string& out, const options& o, std::mt19937_64& rng, std::uint64_t i) {
  std::uint64_t job = o.jobs ? 1 + rng() % o.jobs : i + 1;
  out += "{\"jobId\":";
  append_job_id(out, o, job);
  switch (rng() % 4) {
  case 0:
    out += ",\"op\":\"configs\",\"body\":{\"taskTimeout\":";
    jobpatch::append_uint(out, 60 + rng() % 3600);
    out += ",\"jobTimeout\":\"";
    jobpatch::append_uint(out, 3600 + rng() % 86400);
    out += rng() % 2 ? "\",\"isTestJob\":false}}\n" : "\",\"isTestJob\":true}}\n";
    break;
  case 1:
    out += ",\"op\":\"jobname\",\"body\":\"nightly-";
    jobpatch::append_uint(out, i + 1);
    out += "\"}\n";
    break;
  case 2:
    out += ",\"op\":\"params\",\"body\":{\"preset\":\"standard\",\"app\":{\"quality\":\"";
    out += rng() % 2 ? "high" : "low";
    out += "\",\"frames\":";
    jobpatch::append_uint(out, rng() % 1000);
    out += "},\"partitioner\":{\"chunks\":";
    jobpatch::append_uint(out, 1 + rng() % 64);
    out += "}}}\n";
    break;
  default:
    out += ",\"op\":\"datasource\",\"body\":{\"dataSource\":{\"dataSourceDescriptor\":\"url\","
           "\"params\":{\"@type\":\"type.googleapis.com/bytenite.data_source.HttpDataSource\","
           "\"url\":\"https://example.com/input/";
    jobpatch::append_uint(out, i + 1);
    out += ".mp4\"}},\"dataDestination\":{\"dataSourceDescriptor\":\"bucket\",\"params\":{}}}}\n";
  }
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"jobpatch-make-manifest: write a synthetic NDJSON manifest"};
  app.add_option("--lines", o.lines, "number of lines (default 1000)");
  app.add_option("--jobs", o.jobs,
                 "distinct job ids job-0000001..job-N; 0 = one per line (default 100)");
  app.add_option("--seed", o.seed, "random seed (default 1)");
  app.add_option("--out", o.out, "output file, - for stdout (default -)");
  app.add_option("--id-prefix", o.id_prefix,
                 "job id prefix (default job-; another names jobs the mock does not have)");
  CLI11_PARSE(app, argc, argv);
  try {
    jobpatch::file_writer out(o.out, jobpatch::file_writer::mode::truncate);
    std::mt19937_64 rng(o.seed);
    for (std::uint64_t i = 0; i < o.lines; ++i) {
      append_line(out.buffer(), o, rng, i);
      out.commit();
    }
    out.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch-make-manifest: %s\n", e.what());
    return 2;
  }
  return 0;
}
