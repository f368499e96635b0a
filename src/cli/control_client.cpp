// `jobpatch control SOCKET COMMAND`: one command to a running `apply --control SOCKET`
// (issue 27). The words are parsed here first (a bad command exits 2 and sends nothing),
// then sent as their canonical words and '\n' over plain POSIX calls (no Asio in the
// client), and the server's one JSON line is printed on stdout. Exit 0 when it says
// "ok":true, 2 when "ok":false, 3 when nothing listens or no reply came within 5 s.

#include "cli/commands.hpp"

#include <jobpatch/run/control_command.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace jobpatch::cli {
namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::seconds exchange_timeout{5};
// A reply is one short JSON object; a longer one is not a control socket's.
constexpr std::size_t max_reply_bytes = std::size_t{64} * 1024;

[[noreturn]] void nothing_there(const std::string& message) {
  throw cli_error(exit_aborted, message);
}

class socket_fd {
public:
  socket_fd() : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) nothing_there(std::string("socket: ") + std::strerror(errno));
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() { ::close(fd_); }
  int get() const noexcept { return fd_; }

private:
  int fd_;
};

// Waits until `fd` is ready for `events` before `deadline`; false when the time is up.
bool wait_ready(int fd, short events, clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true; // the read or write then says what is wrong
  }
}

void connect_to(const socket_fd& fd, const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path))
    refuse("the socket path " + path + " is too long for a Unix socket (at most " +
           std::to_string(sizeof(address.sun_path) - 1) + " bytes)");
  std::memcpy(address.sun_path, path.data(), path.size());
  // A connect that waits (the server's backlog full) gives up within the timeout.
  timeval timeout{exchange_timeout.count(), 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int connected = 0;
  do {
    connected = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (connected != 0 && errno == EINTR);
  if (connected == 0) return;
  int error = errno;
  if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR || error == ENOTSOCK)
    nothing_there("nothing listens on " + path);
  if (error == EAGAIN) nothing_there(path + " did not accept the connection within 5 s");
  nothing_there("cannot connect to " + path + ": " + std::strerror(error));
}

void send_line(const socket_fd& fd, const std::string& path, std::string_view line,
               clock::time_point deadline) {
  while (!line.empty()) {
    if (!wait_ready(fd.get(), POLLOUT, deadline))
      nothing_there(path + " did not take the command within 5 s");
    ssize_t n = ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) nothing_there("sending to " + path + ": " + std::strerror(errno));
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The reply line without its '\n'.
std::string receive_line(const socket_fd& fd, const std::string& path, clock::time_point deadline) {
  std::string reply;
  char chunk[4096];
  for (;;) {
    if (!wait_ready(fd.get(), POLLIN, deadline))
      nothing_there("no reply from " + path + " within 5 s");
    ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) nothing_there("reading the reply from " + path + ": " + std::strerror(errno));
    if (n == 0) nothing_there(path + " closed the connection without a whole reply");
    reply.append(chunk, static_cast<std::size_t>(n));
    if (auto end = reply.find('\n'); end != std::string::npos) return reply.substr(0, end);
    if (reply.size() > max_reply_bytes) nothing_there(path + " replied with no line end");
  }
}

// "ok" of the reply; exit 3 when it is not a reply of a control socket.
bool reply_ok(const std::string& reply, const std::string& path) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(reply, ec);
  const boost::json::object* object = ec ? nullptr : value.if_object();
  const boost::json::value* ok = object ? object->if_contains("ok") : nullptr;
  if (ok == nullptr || !ok->is_bool())
    nothing_there(path + " did not reply as a jobpatch run does (no JSON \"ok\")");
  return ok->as_bool();
}

} // namespace

int run_control(const control_options& options) {
  std::vector<std::string_view> words(options.words.begin(), options.words.end());
  auto parsed = parse_control_command(words);
  if (!parsed.command) refuse(parsed.error);
  // One bound for the whole exchange: connecting, sending, the reply.
  auto deadline = clock::now() + exchange_timeout;
  socket_fd fd;
  connect_to(fd, options.socket);
  send_line(fd, options.socket, to_string(*parsed.command) + "\n", deadline);
  std::string reply = receive_line(fd, options.socket, deadline);
  bool ok = reply_ok(reply, options.socket);
  std::printf("%s\n", reply.c_str());
  std::fflush(stdout);
  if (!ok) throw cli_error(exit_usage, "");
  return exit_ok;
}

} // namespace jobpatch::cli
