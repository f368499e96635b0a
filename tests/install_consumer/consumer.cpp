// Validates two manifest lines with the installed jobpatch::core and prints what it found;
// tests/install/install_test.cmake checks the output.

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/version.hpp>

#include <cstdio>
#include <string>

int main() {
  jobpatch::line_validator validator;
  jobpatch::operation op;
  std::string good = R"({"jobId":"job-1","op":"jobname","body":"nightly"})";
  std::string bad = R"({"jobId":"job-2","op":"configs","body":{"taskTimeout":"abc"}})";
  bool good_ok = validator.validate(good, good.size(), 1, op);
  std::printf("line 1: %s job %s\n", good_ok ? "valid" : "invalid", op.job_id.c_str());
  bool bad_ok = validator.validate(bad, bad.size(), 2, op);
  std::printf("line 2: %s: %s\n", bad_ok ? "valid" : "invalid", validator.error().message.c_str());
  std::printf("%s\n", jobpatch::version_text().c_str());
  return good_ok && !bad_ok ? 0 : 1;
}
