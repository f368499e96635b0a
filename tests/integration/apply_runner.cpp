#include "apply_runner.hpp"

#include <boost/json.hpp>

#include <map>
#include <stdexcept>

namespace jobpatch::test {
namespace {
namespace json = boost::json;

struct update {
  std::string op;
  json::value body;
  bool operator==(const update&) const = default;
};

// Per job, the updates of the manifest (in order) or of the mock's journal (as applied).
std::map<std::string, std::vector<update>> updates_by_job(const std::string& path, bool journal) {
  std::map<std::string, std::vector<update>> out;
  for (const auto& line : read_lines(path)) {
    auto v = json::parse(line).as_object();
    json::value body = v["body"];
    if (journal && body.is_string() && v["op"].as_string() != "jobname")
      body = json::parse(body.as_string());
    out[std::string(v["jobId"].as_string())].push_back({std::string(v["op"].as_string()), body});
  }
  return out;
}

} // namespace

std::string check_applied_in_order(const std::string& manifest, const std::string& journal) {
  auto wanted = updates_by_job(manifest, false);
  auto applied = updates_by_job(journal, true);
  for (auto& [job, list] : wanted) {
    auto& seen = applied[job];
    std::size_t k = 0; // updates of `list` applied so far
    for (const auto& u : seen) {
      if (k > 0 && u == list[k - 1]) continue; // a repeat of the last one
      if (k < list.size() && u == list[k]) {
        ++k;
        continue;
      } // the next one
      return "job " + job + ": journal entry " + json::serialize(u.body) + " (" + u.op +
             ") out of manifest order after " + std::to_string(k) + " updates";
    }
    if (k != list.size())
      return "job " + job + ": only " + std::to_string(k) + " of " + std::to_string(list.size()) +
             " updates applied";
  }
  return {};
}

std::vector<std::string> jobpatch_argv(unsigned port, const std::string& cert,
                                       const std::string& command, const std::string& input,
                                       std::vector<std::string> args) {
  std::vector<std::string> argv = {
      JOBPATCH_BIN, command, input, "--base-url", "https://localhost:" + std::to_string(port),
      "--cacert",   cert};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> jobpatch_argv(const mock_process& mock, const std::string& command,
                                       const std::string& input, std::vector<std::string> args) {
  return jobpatch_argv(mock.port(), mock.cert(), command, input, std::move(args));
}

int run_apply(const mock_process& mock, const std::string& manifest, std::vector<std::string> args,
              const std::string& key, std::chrono::milliseconds timeout) {
  child_process run(jobpatch_argv(mock, "apply", manifest, std::move(args)),
                    {{"BYTENITE_API_KEY", key}}, mock.path("apply.out"), mock.path("apply.err"));
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
