#pragma once
// Test support: run the built programs as child processes, with bounded waits.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace jobpatch::test {

// The jobpatch program the tests run: JOBPATCH_TEST_JOBPATCH when set (scripts/test-tsan.sh
// runs this build's tests against a ThreadSanitizer build of jobpatch), else this build's.
const char* jobpatch_program();
#define JOBPATCH_BIN ::jobpatch::test::jobpatch_program()

class child_process {
public:
  // Starts `argv` with the environment plus `env`; stdout/stderr go to the given files
  // (empty: inherited). Throws std::runtime_error if it cannot start.
  child_process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                std::string stdout_path = {}, std::string stderr_path = {});
  // SIGKILLs a child still running. A child also gets SIGKILL when the thread that started
  // it ends (PR_SET_PDEATHSIG), so start children from the test's own thread.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int number) const;
  // Waits up to slowed(`timeout`); returns the exit code (128+signal when killed), or -1 on
  // timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();

private:
  std::string program_, stderr_path_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// The exit code scripts/test-sanitizers.sh gives the sanitizers (ASAN_OPTIONS exitcode=86);
// no jobpatch program exits with it.
inline constexpr int sanitizer_exit_code = 86;

// Called with every reaped child's exit code: when it is sanitizer_exit_code and
// JOBPATCH_SANITIZER_LOGS names a directory, leaves a file there with the child's stderr
// (UBSan, unlike ASan, cannot write its report to log_path next to ASan), so the
// sanitizer run fails even when a test ignores that child's exit code.
void note_sanitizer_exit(const std::string& program, pid_t pid, int code,
                         const std::string& stderr_path);

// A fresh temporary directory, removed with its files on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

private:
  std::string dir_;
};

// `timeout` times JOBPATCH_TEST_SLOWDOWN (a factor >= 1, default 1), for the waits that
// only bound how long a test waits for a child or a file: scripts/test-sanitizers.sh sets
// it, instrumented programs start and run several times slower. Limits a test asserts
// ("aborts within 10 s") are not scaled.
std::chrono::milliseconds slowed(std::chrono::milliseconds timeout);

// Waits up to slowed(`timeout`) until `path` exists and is non-empty; false on timeout.
bool wait_for_file(const std::string& path, std::chrono::milliseconds timeout);
// Waits up to slowed(`timeout`) until `path` holds at least `lines` whole lines (ending in
// '\n'), or `writer` has exited; returns how many it holds then. For tests that act at a
// moment defined by progress ("kill after N records") rather than by a sleep.
std::size_t wait_for_lines(const std::string& path, std::size_t lines, child_process& writer,
                           std::chrono::milliseconds timeout);
// Waits up to slowed(`timeout`) until `pid` has taken signal `number` (it is pending no
// more): a second signal sent after that is a second delivery, not merged with the first.
bool wait_signal_taken(pid_t pid, int number, std::chrono::milliseconds timeout);
std::string read_file(const std::string& path);
std::vector<std::string> read_lines(const std::string& path);
void write_file(const std::string& path, const std::string& text);

} // namespace jobpatch::test
