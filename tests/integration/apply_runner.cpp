#include "apply_runner.hpp"

#include <stdexcept>

namespace jobpatch::test {

int run_apply(const mock_process& mock, const std::string& manifest, std::vector<std::string> args,
              const std::string& key, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {JOBPATCH_BIN, "apply", manifest, "--base-url",
                                   "https://localhost:" + std::to_string(mock.port()),
                                   "--cacert", mock.cert()};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", key}}, mock.path("apply.out"),
                    mock.path("apply.err"));
  return run.wait(timeout);
}

std::string make_manifest(const mock_process& mock, const std::string& name, unsigned lines,
                          unsigned jobs, unsigned seed) {
  std::string out = mock.path(name);
  child_process gen({JOBPATCH_MAKE_MANIFEST_BIN, "--lines", std::to_string(lines), "--jobs",
                     std::to_string(jobs), "--seed", std::to_string(seed), "--out", out});
  if (gen.wait(std::chrono::seconds(30)) != 0) throw std::runtime_error("make_manifest failed");
  return out;
}

} // namespace jobpatch::test
