#include "net/control_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace jobpatch::net {

// One connection being served: its request read, then its reply written, each by
// `deadline`.
struct control_connection {
  int fd = -1;
  std::string in, out;
  std::size_t sent = 0;
  std::chrono::steady_clock::time_point deadline;
};

struct control_socket::state {
  state(boost::asio::io_context& context, std::string socket_path, handler h)
      : path(std::move(socket_path)), handle(std::move(h)), tick(context) {}

  std::string path;
  handler handle;
  int listener = -1;                    // non-blocking
  boost::asio::steady_timer tick;       // the next look at the sockets
  std::vector<control_connection> live; // at most max_connections
  dev_t device = 0;                     // the socket file this put at `path`
  ino_t inode = 0;
  bool started = false, closed = false;
  bool serving = false; // serve_once() is going through `live`
};

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("control socket " + path + ": " + what);
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& call, int error) {
  fail(path, call + ": " + std::strerror(error));
}

// Closes its descriptor unless released.
class unique_fd {
public:
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

private:
  int fd_;
};

// The address of `path`, or false when it does not fit (with its terminating NUL).
bool make_address(const std::string& path, sockaddr_un& address) {
  address = {};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) return false;
  std::memcpy(address.sun_path, path.data(), path.size());
  return true;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void check_directory(const std::string& path) {
  std::string parent = parent_of(path);
  struct stat st {};
  if (::stat(parent.c_str(), &st) != 0) {
    int error = errno;
    if (error == ENOENT) fail(path, "its directory " + parent + " does not exist");
    fail_errno(path, "its directory " + parent, error);
  }
  if (!S_ISDIR(st.st_mode)) fail(path, parent + " is not a directory");
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    fail_errno(path, "cannot create a socket in " + parent, errno);
}

// Whether something accepts connections at the socket file `path` (connect succeeds or
// its backlog is full); false when nothing listens there (a stale file).
bool something_listens(const std::string& path) {
  sockaddr_un address{};
  make_address(path, address);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail_errno(path, "socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
    return true;
  int error = errno;
  if (error == EAGAIN || error == EINPROGRESS) return true;
  if (error == ECONNREFUSED || error == ENOENT) return false;
  fail_errno(path, "cannot tell whether something listens there", error);
}

enum class path_state { absent, stale };

path_state inspect(const std::string& path) {
  sockaddr_un address{};
  if (path.empty()) throw std::runtime_error("control socket: the path is empty");
  if (!make_address(path, address))
    fail(path, "the path is " + std::to_string(path.size()) +
                   " bytes long; a Unix socket path holds at most " +
                   std::to_string(sizeof(address.sun_path) - 1));
  check_directory(path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    int error = errno;
    if (error == ENOENT) return path_state::absent;
    fail_errno(path, "lstat", error);
  }
  if (!S_ISSOCK(st.st_mode)) fail(path, "a file that is not a socket is there (not replaced)");
  if (something_listens(path))
    fail(path, "something already listens there (another jobpatch apply --control?)");
  return path_state::stale;
}

// A fresh 0700 directory beside the socket's path, where it is bound and set to 0600
// before anyone else can reach it; removed with whatever is left in it.
class private_directory {
public:
  explicit private_directory(const std::string& path) : socket_path_(path) {
    path_ = parent_of(path) + "/.jobpatch-control-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) fail_errno(path, "mkdtemp", errno);
    fd_ = ::open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) {
      int error = errno;
      ::rmdir(path_.c_str());
      fail_errno(path, "open " + path_, error);
    }
  }
  private_directory(const private_directory&) = delete;
  private_directory& operator=(const private_directory&) = delete;
  ~private_directory() {
    ::unlinkat(fd_, name, 0);
    ::close(fd_);
    ::rmdir(path_.c_str());
  }

  static constexpr const char* name = "s";
  int fd() const noexcept { return fd_; }
  // The path to bind: inside the directory; through /proc when that path is too long for
  // a socket address while the socket's own path is not.
  std::string bind_path() const {
    std::string inside = path_ + "/" + name;
    if (inside.size() < sizeof(sockaddr_un::sun_path)) return inside;
    return "/proc/self/fd/" + std::to_string(fd_) + "/" + name;
  }
  // Moves the socket onto its path: replacing a stale file, or only where none is.
  void place(path_state before) const {
    int moved = before == path_state::stale
                    ? ::renameat(fd_, name, AT_FDCWD, socket_path_.c_str())
                    : ::renameat2(fd_, name, AT_FDCWD, socket_path_.c_str(), RENAME_NOREPLACE);
    if (moved != 0 && errno == EINVAL && before == path_state::absent) {
      // A file system without RENAME_NOREPLACE: a hard link fails just the same when the
      // path has been taken meanwhile.
      moved = ::linkat(fd_, name, AT_FDCWD, socket_path_.c_str(), 0);
    }
    if (moved == 0) return;
    int error = errno;
    if (error == EEXIST) fail(socket_path_, "a file appeared there meanwhile (not replaced)");
    fail_errno(socket_path_, "rename", error);
  }

private:
  std::string socket_path_, path_;
  int fd_ = -1;
};

// A socket listening at `path`, mode 0600 from its first moment there; `placed` gets the
// file's identity.
int listen_at(const std::string& path, struct stat& placed) {
  path_state before = inspect(path);
  private_directory directory(path);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail_errno(path, "socket", errno);
  sockaddr_un address{};
  std::string bind_path = directory.bind_path();
  if (!make_address(bind_path, address)) fail(path, "the path is too long");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    fail_errno(path, "bind", errno);
  if (::fchmodat(directory.fd(), private_directory::name, S_IRUSR | S_IWUSR, 0) != 0)
    fail_errno(path, "chmod", errno);
  if (::listen(fd.get(), 16) != 0) fail_errno(path, "listen", errno);
  directory.place(before);
  if (::lstat(path.c_str(), &placed) != 0) fail_errno(path, "lstat", errno);
  return fd.release();
}

// What the handler says to a request line; an error reply when the line is not a command.
std::string answer(const control_socket::handler& handle, std::string_view line) {
  auto parsed = parse_control_line(line);
  if (!parsed.command) return control_reply_error(parsed.error);
  std::string reply;
  try {
    reply = handle(*parsed.command);
  } catch (const std::exception& e) {
    return control_reply_error(e.what());
  }
  // The protocol is one line: a reply that would end early, or not at all, is not sent.
  if (reply.empty() || reply.find('\n') != std::string::npos)
    return control_reply_error("the run's reply to " + to_string(*parsed.command) +
                               " was not one line");
  return reply;
}

// What a request holding `in` (the bytes read so far) is answered, once it can be: the
// handler's reply to its first line, or an error. Empty while more may come.
std::string judge_request(const control_socket::handler& handle, const std::string& in,
                          bool ended) {
  // At most control_max_request_bytes and the '\n' are read (recv never asks for more).
  auto end = in.find('\n');
  if (end != std::string::npos) return answer(handle, std::string_view(in).substr(0, end));
  if (in.size() > control_max_request_bytes)
    return control_reply_error("the request line is longer than 256 bytes");
  if (ended && !in.empty())
    return control_reply_error("the request line did not end with a newline");
  return {};
}

enum class progress { waiting, done };

// Reads what `c` has sent; once the request is judged, `c.out` holds the reply line. Done
// when the connection is to be closed without a reply.
progress read_request(const control_socket::handler& handle, control_connection& c,
                      std::chrono::steady_clock::time_point now) {
  for (;;) {
    char chunk[control_max_request_bytes + 1];
    std::size_t room = control_max_request_bytes + 1 - c.in.size();
    ssize_t n = ::recv(c.fd, chunk, room, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(chunk, static_cast<std::size_t>(n));
      c.out = judge_request(handle, c.in, false);
      if (!c.out.empty()) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (now < c.deadline) return progress::waiting;
      c.out = control_reply_error("no request line within 2 s");
      break;
    }
    // The end of the stream, or a failure of the connection.
    if (n == 0) c.out = judge_request(handle, c.in, true);
    if (c.out.empty()) return progress::done; // the peer left without a request
    break;
  }
  c.out += '\n';
  c.deadline = now + control_socket::request_timeout;
  return progress::waiting;
}

// Writes what is left of the reply; done once it is all written, or cannot be.
progress write_reply(control_connection& c, std::chrono::steady_clock::time_point now) {
  while (c.sent < c.out.size()) {
    ssize_t n =
        ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now < c.deadline)
      return progress::waiting;
    return progress::done;
  }
  return progress::done;
}

void remove_if_ours(const control_socket::state& s) {
  struct stat st {};
  if (::lstat(s.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s.device &&
      st.st_ino == s.inode)
    ::unlink(s.path.c_str());
}

void end_connection(const control_connection& c) {
  ::shutdown(c.fd, SHUT_RDWR);
  ::close(c.fd);
}

void end_connections(control_socket::state& s) {
  for (const auto& c : s.live) end_connection(c);
  s.live.clear();
}

// One look at the sockets: takes the connections waiting (up to max_connections served at
// once; the others wait in the backlog), reads their requests, answers and writes back.
void serve_once(control_socket::state& s) {
  auto now = std::chrono::steady_clock::now();
  while (s.live.size() < control_socket::max_connections) {
    int fd = ::accept4(s.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      s.live.push_back({fd, {}, {}, 0, now + control_socket::request_timeout});
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    break; // none waiting; or out of descriptors, say: the next look tries again
  }
  // A handler that closes the control socket leaves the connections to the end of this.
  s.serving = true;
  for (std::size_t i = 0; i < s.live.size() && !s.closed;) {
    control_connection& c = s.live[i];
    progress p = c.out.empty() ? read_request(s.handle, c, now) : progress::waiting;
    if (s.closed) break;
    if (p == progress::waiting && !c.out.empty()) p = write_reply(c, now);
    if (p == progress::waiting) {
      ++i;
      continue;
    }
    end_connection(c);
    s.live.erase(s.live.begin() + static_cast<std::ptrdiff_t>(i));
  }
  s.serving = false;
  if (s.closed) end_connections(s);
}

void look_later(const std::shared_ptr<control_socket::state>& s) {
  s->tick.expires_after(control_socket::poll_interval);
  s->tick.async_wait([weak = std::weak_ptr(s)](const boost::system::error_code& ec) {
    auto state = weak.lock();
    if (ec || !state || state->closed) return;
    serve_once(*state);
    if (!state->closed) look_later(state);
  });
}

} // namespace

void check_control_path(const std::string& path) { (void)inspect(path); }

control_socket::control_socket(boost::asio::io_context& io, std::string path, handler handle)
    : state_(std::make_shared<state>(io, std::move(path), std::move(handle))) {
  if (!state_->handle) throw std::invalid_argument("control_socket: no handler");
  struct stat placed {};
  state_->listener = listen_at(state_->path, placed);
  state_->device = placed.st_dev;
  state_->inode = placed.st_ino;
}

control_socket::~control_socket() { close(); }

void control_socket::start() {
  if (state_->started || state_->closed) return;
  state_->started = true;
  look_later(state_);
}

void control_socket::close() {
  state& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.tick.cancel();
  if (!s.serving) end_connections(s);
  ::close(s.listener);
  remove_if_ours(s);
}

const std::string& control_socket::path() const noexcept { return state_->path; }

} // namespace jobpatch::net
