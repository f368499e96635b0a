#include "child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobpatch::test {

child_process::child_process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                             std::string stdout_path, std::string stderr_path)
    : program_(argv.empty() ? std::string() : argv[0]), stderr_path_(stderr_path) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // The child dies with the test: a test killed by ctest's timeout (or crashing) must not
    // leave a jobpatch-mock behind. If the test died before prctl took effect, the child
    // has been reparented already and no signal would come, so it leaves at once.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    auto redirect = [](const std::string& path, int fd) {
      if (path.empty()) return;
      int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) ::dup2(out, fd);
    };
    redirect(stdout_path, STDOUT_FILENO);
    redirect(stderr_path, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

child_process::~child_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

void child_process::signal(int number) const { ::kill(pid_, number); }

bool child_process::running() {
  if (status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  note_sanitizer_exit(program_, pid_, status_, stderr_path_);
  return false;
}

const char* jobpatch_program() {
  static const char* const program = [] {
    const char* other = std::getenv("JOBPATCH_TEST_JOBPATCH");
    return other && *other ? other : JOBPATCH_BUILT_BIN;
  }();
  return program;
}

std::chrono::milliseconds slowed(std::chrono::milliseconds timeout) {
  static const double factor = [] {
    const char* text = std::getenv("JOBPATCH_TEST_SLOWDOWN");
    double f = text ? std::strtod(text, nullptr) : 1.0;
    return f >= 1.0 && f <= 100.0 ? f : 1.0;
  }();
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(timeout.count()) * factor));
}

int child_process::wait(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + slowed(timeout);
  while (running()) {
    if (std::chrono::steady_clock::now() > until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

void note_sanitizer_exit(const std::string& program, pid_t pid, int code,
                         const std::string& stderr_path) {
  const char* logs = std::getenv("JOBPATCH_SANITIZER_LOGS");
  if (code != sanitizer_exit_code || !logs || !*logs) return;
  std::ofstream out(std::string(logs) + "/child-exit-86." + std::to_string(pid), std::ios::binary);
  out << program << " (pid " << pid << ") exited with the sanitizers' exit code "
      << sanitizer_exit_code << "; its stderr"
      << (stderr_path.empty() ? " went to the test's output\n" : ":\n" + read_file(stderr_path));
}

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "jobpatch-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

temp_dir::~temp_dir() {
  if (std::getenv("JOBPATCH_KEEP_TEST_DIRS")) return; // left for a post-mortem
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool wait_for_file(const std::string& path, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + slowed(timeout);
  while (std::chrono::steady_clock::now() < until) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::size_t wait_for_lines(const std::string& path, std::size_t lines, child_process& writer,
                           std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + slowed(timeout);
  for (;;) {
    std::string text = read_file(path);
    auto held = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    if (held >= lines || !writer.running() || std::chrono::steady_clock::now() > until) return held;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool wait_signal_taken(pid_t pid, int number, std::chrono::milliseconds timeout) {
  const std::uint64_t bit = std::uint64_t{1} << (number - 1);
  auto until = std::chrono::steady_clock::now() + slowed(timeout);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) return true; // gone
    std::uint64_t pending = 0;
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("SigPnd:") || line.starts_with("ShdPnd:"))
        pending |= std::stoull(line.substr(7), nullptr, 16);
    if (!(pending & bit)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

} // namespace jobpatch::test
