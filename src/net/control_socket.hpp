#pragma once
// The server side of live control (`apply --control SOCKET`, issue 27): a Unix socket on
// the io thread that takes one command line per connection (the canonical words of a
// control_command and '\n'), parses it again (the client is never trusted), hands the
// command to the engine's handler and writes back the handler's one JSON line, then
// closes. The wire protocol, both directions, is in control_command.hpp.
//
// Its descriptors are non-blocking and looked at every poll_interval by a timer: no
// operation of Asio's backend is ever pending on them, so close() closes them at once,
// safely on either backend (Boost 1.81's io_uring service is not safe with a socket
// closed or cancelled under an operation: HACKING.md).
//
// The socket file is created mode 0600 with no moment at which it is wider: it is bound
// inside a fresh 0700 directory beside PATH, set to 0600 there, and renamed onto PATH.
// The umask is never touched (it is the process's, and the reader and writer threads may
// be creating files meanwhile). A stale socket file at PATH (nothing listens) is
// replaced; a live one, or anything that is not a socket, is refused. close() removes the
// file, unless another file has taken its place meanwhile.

#include <jobpatch/run/control_command.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace jobpatch::net {

// Preflight for the CLI before the run starts: throws std::runtime_error with the reason
// PATH cannot take a control socket (empty; too long for a Unix socket address; its
// directory missing, not a directory or not writable; a file there that is not a socket;
// a socket there that something listens on). A stale socket file passes: it is replaced.
void check_control_path(const std::string& path);

class control_socket {
public:
  // Called on the io thread with a parsed command; returns the JSON reply line (without
  // "\n"): {"ok":true,...} (control_reply_change() for a change) or control_reply_error().
  // An exception it throws is answered as {"ok":false,"error":what()}.
  using handler = std::function<std::string(const control_command&)>;

  // A connection that has not sent its whole request line (or not taken the reply) within
  // this is answered with an error, or dropped, and closed.
  static constexpr std::chrono::milliseconds request_timeout{2000};
  // Connections served at once; further ones wait in the listen backlog until one ends.
  static constexpr std::size_t max_connections = 4;
  // How often the sockets are looked at (a command waits up to this long to be taken, and
  // as long again for its reply to be written when the client is slow to read it).
  static constexpr std::chrono::milliseconds poll_interval{20};

  // Binds and listens at `path` now (check_control_path's refusals, or a failing system
  // call, throw std::runtime_error naming the path and the reason).
  control_socket(boost::asio::io_context& io, std::string path, handler handle);
  control_socket(const control_socket&) = delete;
  control_socket& operator=(const control_socket&) = delete;
  // close().
  ~control_socket();

  // Starts looking at the socket every poll_interval (a timer of the io_context). Nothing
  // it meets throws out of it.
  void start();
  // Stops accepting, closes the connections being served (no handler is called after
  // this), and removes the socket file. Idempotent. start() and close() are called on the
  // io thread, or while the io_context is not running.
  void close();

  const std::string& path() const noexcept;

  struct state; // the timer's handler holds a weak_ptr to it

private:
  std::shared_ptr<state> state_;
};

} // namespace jobpatch::net
