// validate_bench MANIFEST: runs the manifest reader and line validator over a file, the
// same path `jobpatch validate` takes, and prints throughput and peak RSS.

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>

#include <chrono>
#include <cstdio>

#include <sys/resource.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: validate_bench MANIFEST\n");
    return 2;
  }
  auto reader = jobpatch::manifest_reader::open(argv[1]);
  jobpatch::line_validator validator;
  jobpatch::operation op;
  jobpatch::manifest_line line;
  std::uint64_t lines = 0, invalid = 0;
  auto start = std::chrono::steady_clock::now();
  while (reader.next(line)) {
    ++lines;
    if (line.oversized || !validator.validate(line.text, line.readable, line.number, op)) ++invalid;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "lines=%llu invalid=%llu seconds=%.3f lines_per_s=%.0f MB_per_s=%.1f peak_rss_MB=%.1f\n",
      static_cast<unsigned long long>(lines), static_cast<unsigned long long>(invalid), seconds,
      lines / seconds, reader.bytes_read() / seconds / 1e6, usage.ru_maxrss / 1024.0);
  return invalid == 0 ? 0 : 1;
}
