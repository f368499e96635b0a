// Reads a manifest (argv[1]) with the installed jobpatch::core, validates each line and
// prints what it found; tests/install/install_test.cmake checks the output. Uses only the
// public headers (cmake/install.cmake).

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/version.hpp>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MANIFEST\n");
    return 2;
  }
  try {
    auto reader = jobpatch::manifest_reader::open(argv[1]);
    jobpatch::line_validator validator;
    jobpatch::operation op;
    jobpatch::manifest_line line;
    unsigned lines = 0, valid = 0;
    while (reader.next(line)) {
      ++lines;
      if (validator.validate(line.text, line.readable, line.number, op)) {
        ++valid;
        std::printf("line %llu: valid job %s, %s %s\n",
                    static_cast<unsigned long long>(line.number), op.job_id.c_str(),
                    std::string(jobpatch::to_string(op.op)).c_str(), op.body.c_str());
      } else {
        const auto& e = validator.error();
        std::printf("line %llu: invalid job %s: %s\n", static_cast<unsigned long long>(e.line),
                    e.job_id.c_str(), e.message.c_str());
      }
    }
    std::printf("%u lines, %u valid\n%s\n", lines, valid, jobpatch::version_text().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
