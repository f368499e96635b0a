#include "net/control_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace jobpatch::net {

using boost::asio::local::stream_protocol;

struct control_socket::state {
  state(boost::asio::io_context& context, std::string socket_path, handler h)
      : io(context), path(std::move(socket_path)), handle(std::move(h)), acceptor(context),
        slot_free(context) {}

  boost::asio::io_context& io;
  std::string path;
  handler handle;
  stream_protocol::acceptor acceptor;
  // Cancelled whenever a connection ends: the accept loop waits on it while
  // max_connections are being served.
  boost::asio::steady_timer slot_free;
  std::vector<stream_protocol::socket*> live; // the connections being served, for close()
  std::size_t active = 0;                     // connections accepted and not yet ended
  dev_t device = 0;                           // the socket file this put at `path`
  ino_t inode = 0;
  bool started = false, closed = false;
};

namespace {

constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

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
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
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
std::string answer(control_socket::state& s, std::string_view line) {
  auto parsed = parse_control_line(line);
  if (!parsed.command) return control_reply_error(parsed.error);
  std::string reply;
  try {
    reply = s.handle(*parsed.command);
  } catch (const std::exception& e) {
    return control_reply_error(e.what());
  }
  // The protocol is one line: a reply that would end early, or not at all, is not sent.
  if (reply.empty() || reply.find('\n') != std::string::npos)
    return control_reply_error("the run's reply to " + to_string(*parsed.command) +
                               " was not one line");
  return reply;
}

// The reply to the request line read from `sock`; empty when the peer left without one
// or the socket is closing.
boost::asio::awaitable<std::string> take_request(control_socket::state& s,
                                                 stream_protocol::socket& sock) {
  using namespace boost::asio::experimental::awaitable_operators;
  std::string line;
  boost::asio::steady_timer timer(sock.get_executor(), control_socket::request_timeout);
  auto buffer = boost::asio::dynamic_buffer(line, control_max_request_bytes + 1);
  auto read = boost::asio::async_read_until(sock, buffer, '\n', use_tuple);
  auto outcome = co_await (std::move(read) || timer.async_wait(use_tuple));
  if (s.closed) co_return std::string();
  if (outcome.index() == 1) co_return control_reply_error("no request line within 2 s");
  auto [ec, length] = std::get<0>(outcome);
  if (!ec) co_return answer(s, std::string_view(line).substr(0, length - 1));
  if (ec == boost::asio::error::not_found)
    co_return control_reply_error("the request line is longer than 256 bytes");
  if (ec == boost::asio::error::eof && !line.empty())
    co_return control_reply_error("the request line did not end with a newline");
  co_return std::string();
}

// Counts a connection in while it is served.
class connection_entry {
public:
  connection_entry(control_socket::state& s, stream_protocol::socket& sock) : s_(s), sock_(sock) {
    s_.live.push_back(&sock_);
  }
  connection_entry(const connection_entry&) = delete;
  connection_entry& operator=(const connection_entry&) = delete;
  ~connection_entry() {
    s_.live.erase(std::remove(s_.live.begin(), s_.live.end(), &sock_), s_.live.end());
    --s_.active;
    s_.slot_free.cancel();
  }

private:
  control_socket::state& s_;
  stream_protocol::socket& sock_;
};

boost::asio::awaitable<void> serve(std::shared_ptr<control_socket::state> s,
                                   stream_protocol::socket sock) {
  using namespace boost::asio::experimental::awaitable_operators;
  connection_entry entry(*s, sock);
  boost::system::error_code ignored;
  try {
    if (!s->closed) {
      std::string reply = co_await take_request(*s, sock);
      if (!reply.empty() && !s->closed) {
        reply += '\n';
        boost::asio::steady_timer timer(sock.get_executor(), control_socket::request_timeout);
        auto write = boost::asio::async_write(sock, boost::asio::buffer(reply), use_tuple);
        co_await (std::move(write) || timer.async_wait(use_tuple));
      }
    }
  } catch (const std::exception&) {
    // A connection's failure ends that connection only.
  }
  sock.shutdown(stream_protocol::socket::shutdown_both, ignored);
  sock.close(ignored);
}

// Swallows what a coroutine of the control socket may throw: it must not reach io.run().
struct ignore_exception {
  void operator()(const std::exception_ptr&) const noexcept {}
};

boost::asio::awaitable<void> accept_loop(std::shared_ptr<control_socket::state> s) {
  while (!s->closed) {
    if (s->active >= control_socket::max_connections) {
      s->slot_free.expires_at(boost::asio::steady_timer::time_point::max());
      co_await s->slot_free.async_wait(use_tuple);
      continue;
    }
    auto [ec, sock] = co_await s->acceptor.async_accept(use_tuple);
    if (s->closed) break;
    if (ec) {
      // Out of descriptors, say: try again a little later rather than spin.
      boost::asio::steady_timer pause(s->io, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    ++s->active;
    boost::asio::co_spawn(s->io, serve(s, std::move(sock)), ignore_exception{});
  }
}

void remove_if_ours(const control_socket::state& s) {
  struct stat st {};
  if (::lstat(s.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s.device &&
      st.st_ino == s.inode)
    ::unlink(s.path.c_str());
}

} // namespace

void check_control_path(const std::string& path) { (void)inspect(path); }

control_socket::control_socket(boost::asio::io_context& io, std::string path, handler handle)
    : state_(std::make_shared<state>(io, std::move(path), std::move(handle))) {
  if (!state_->handle) throw std::invalid_argument("control_socket: no handler");
  struct stat placed {};
  int fd = listen_at(state_->path, placed);
  state_->device = placed.st_dev;
  state_->inode = placed.st_ino;
  boost::system::error_code ec;
  state_->acceptor.assign(stream_protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    remove_if_ours(*state_);
    fail(state_->path, "cannot watch the socket: " + ec.message());
  }
}

control_socket::~control_socket() { close(); }

void control_socket::start() {
  if (state_->started || state_->closed) return;
  state_->started = true;
  boost::asio::co_spawn(state_->io, accept_loop(state_), ignore_exception{});
}

void control_socket::close() {
  state& s = *state_;
  if (s.closed) return;
  s.closed = true;
  boost::system::error_code ignored;
  s.acceptor.close(ignored);
  for (auto* sock : s.live) sock->close(ignored);
  s.slot_free.cancel();
  remove_if_ours(s);
}

const std::string& control_socket::path() const noexcept { return state_->path; }

} // namespace jobpatch::net
