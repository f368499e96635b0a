#include "mock_fixture.hpp"

#include <csignal>
#include <stdexcept>

namespace jobpatch::test {

mock_fixture::mock_fixture(std::vector<std::string> args, unsigned jobs) {
  cert_ = dir_.path("cert.pem");
  journal_ = dir_.path("journal.ndjson");
  std::vector<std::string> argv = {JOBPATCH_MOCK_BIN, "--port", "0", "--port-file",
                                   dir_.path("port"), "--cert-out", cert_, "--api-key",
                                   test_api_key, "--jobs", std::to_string(jobs), "--journal",
                                   journal_};
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<child_process>(argv, std::map<std::string, std::string>{}, "",
                                             dir_.path("mock.err"));
  if (!wait_for_file(dir_.path("port"), std::chrono::seconds(10)) ||
      !wait_for_file(cert_, std::chrono::seconds(10)))
    throw std::runtime_error("jobpatch-mock did not start: " + read_file(dir_.path("mock.err")));
  port_ = static_cast<unsigned>(std::stoul(read_file(dir_.path("port"))));
}

mock_fixture::~mock_fixture() { stop(); }

int mock_fixture::stop() {
  if (!process_) return -1;
  process_->signal(SIGTERM);
  int code = process_->wait(std::chrono::seconds(10));
  process_.reset();
  return code;
}

int mock_fixture::apply(const std::string& manifest, std::vector<std::string> args,
                        const std::string& key, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {JOBPATCH_BIN, "apply", manifest, "--base-url", base_url(),
                                   "--cacert", cert_};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", key}}, dir_.path("apply.out"),
                    dir_.path("apply.err"));
  return run.wait(timeout);
}

std::string make_manifest(const mock_fixture& mock, const std::string& name, unsigned lines,
                          unsigned jobs, unsigned seed) {
  std::string out = mock.path(name);
  child_process gen({JOBPATCH_MAKE_MANIFEST_BIN, "--lines", std::to_string(lines), "--jobs",
                     std::to_string(jobs), "--seed", std::to_string(seed), "--out", out});
  if (gen.wait(std::chrono::seconds(30)) != 0) throw std::runtime_error("make_manifest failed");
  return out;
}

} // namespace jobpatch::test
