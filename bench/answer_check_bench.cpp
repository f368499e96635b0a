// answer_check_bench [N] [patch|get]: reads the mock's job document (a configs update
// applied, as a PATCH answer shows it) N times (default 100,000) with the client's two
// readers, warm: response_parser::check_patch (every PATCH answer, the hot path) and
// job_document_reader::parse (every GET of a read-first run); `patch` or `get` runs only
// that one. Prints ns per call. Instructions per call: bench/answer_check.sh (callgrind).

#include <jobpatch/wire/job_document.hpp>
#include <jobpatch/wire/response_parser.hpp>

#include "mock/job_store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::string mock_answer() {
  jobpatch::mock::job_store store;
  store.create("job-0000001");
  std::string out, error;
  if (store.apply("job-0000001", jobpatch::op_kind::configs, R"({"taskTimeout":600})", out,
                  error) != jobpatch::mock::apply_result::applied) {
    std::fprintf(stderr, "answer_check_bench: the mock refused the update: %s\n", error.c_str());
    std::exit(2);
  }
  return out;
}

template <class Call>
double ns_per_call(long n, Call call) {
  if (n == 0) return 0;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) call();
  auto spent = std::chrono::steady_clock::now() - start;
  return std::chrono::duration<double, std::nano>(spent).count() / static_cast<double>(n);
}

} // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 100'000;
  std::string which = argc > 2 ? argv[2] : "both";
  if (n <= 0 || (which != "both" && which != "patch" && which != "get")) {
    std::fprintf(stderr, "usage: answer_check_bench [N] [patch|get]\n");
    return 2;
  }
  long patches = which == "get" ? 0 : n, gets = which == "patch" ? 0 : n;
  std::string body = mock_answer();
  body.reserve(body.size() + 64); // as the connection's buffer: read in place, no copy
  std::size_t readable = body.capacity();

  jobpatch::operation op;
  op.job_id = "job-0000001";
  op.op = jobpatch::op_kind::configs;
  op.body = R"({"taskTimeout":600})";
  jobpatch::response_parser parser;
  jobpatch::patch_verdict verdict;
  bool all_verified = true;
  double patch_ns = ns_per_call(patches, [&] {
    all_verified &= parser.check_patch(op, body, readable, verdict) && verdict.verified;
  });

  jobpatch::job_document_reader reader;
  jobpatch::job_document doc;
  std::string error;
  bool all_read = true;
  double get_ns = ns_per_call(gets, [&] { all_read &= reader.parse(body, readable, doc, error); });
  if (gets > 0)
    all_read &= doc.id == op.job_id && doc.value(jobpatch::job_field::task_timeout) == "600";

  std::printf("answer_bytes=%zu calls=%ld check_patch_ns=%.1f parse_ns=%.1f\n", body.size(), n,
              patch_ns, get_ns);
  if (!all_verified || !all_read) {
    std::fprintf(stderr, "answer_check_bench: the answer did not read as verified: %s%s\n",
                 verdict.error.c_str(), error.c_str());
    return 1;
  }
  return 0;
}
