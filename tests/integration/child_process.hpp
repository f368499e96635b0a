#pragma once
// Test support: run the built programs as child processes, with bounded waits.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace jobpatch::test {

class child_process {
public:
  // Starts `argv` with the environment plus `env`; stdout/stderr go to the given files
  // (empty: inherited). Throws std::runtime_error if it cannot start.
  child_process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                std::string stdout_path = {}, std::string stderr_path = {});
  ~child_process(); // SIGKILLs a child still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int number) const;
  // Waits up to `timeout`; returns the exit code (128+signal when killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();

private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// A fresh temporary directory, removed with its files on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

private:
  std::string dir_;
};

// Waits until `path` exists and is non-empty; false on timeout.
bool wait_for_file(const std::string& path, std::chrono::milliseconds timeout);
std::string read_file(const std::string& path);
std::vector<std::string> read_lines(const std::string& path);
void write_file(const std::string& path, const std::string& text);

} // namespace jobpatch::test
