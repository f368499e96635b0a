// Live control (issue 27), the parts outside the apply engine: the real `jobpatch control`
// program against a control_socket hosted here on an io_context thread, whose handler is
// a fake that records each command it is given and answers as the engine's would.

#include "child_process.hpp"

#include "net/control_socket.hpp"
#include <jobpatch/run/control_command.hpp>

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace jobpatch;
using namespace jobpatch::test;
using namespace std::chrono_literals;

namespace {

const std::string status_reply =
    R"({"ok":true,"done":5,"lines":100,"inFlight":2,"rate":null,"connections":16,"paused":false})";

// The fake engine: records the canonical words of every command it is handed; refuses
// `connections 1024`, throws on `connections 1000` and answers `connections 999` with a
// reply of two lines.
class fake_engine {
public:
  std::string handle(const control_command& c) {
    std::string words = to_string(c);
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(words);
    }
    changed_.notify_all();
    if (c.what == control_command::kind::status) return status_reply;
    if (words == "connections 1024") return control_reply_error("not with this many");
    if (words == "connections 1000") throw std::runtime_error("the engine threw");
    if (words == "connections 999") return "{\"ok\":true,\n\"two\":\"lines\"}";
    return control_reply_change(c);
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  // Waits until `count` commands were handled; false on timeout.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, slowed(timeout), [&] { return seen_.size() >= count; });
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> seen_;
};

// A control_socket at `path` served by an io_context on its own thread.
class hosted_control {
public:
  explicit hosted_control(const std::string& path)
      : socket_(std::in_place, io_, path, [this](const control_command& c) {
          std::string reply = engine.handle(c);
          // As a run that ends while it answers: the handler closes the control socket.
          if (to_string(c) == "connections 998") socket_->close();
          return reply;
        }) {
    socket_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  hosted_control(const hosted_control&) = delete;
  hosted_control& operator=(const hosted_control&) = delete;
  ~hosted_control() {
    close();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  // close() on the io thread, and wait for it.
  void close() {
    on_io_thread([](net::control_socket& socket, boost::asio::io_context&) { socket.close(); });
  }
  // Runs `f` on the io thread, with the socket, and waits for it.
  template <class F>
  void on_io_thread(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f(*socket_, io_);
      done.set_value();
    });
    done.get_future().wait();
  }

  fake_engine engine;

private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::optional<net::control_socket> socket_;
  std::thread thread_;
};

struct control_run {
  int code = -1;
  std::string out, err;
};

// `jobpatch control PATH WORDS...`, to its end.
control_run run_control(const temp_dir& dir, const std::string& path,
                        const std::vector<std::string>& words) {
  std::vector<std::string> argv = {JOBPATCH_BIN, "control", path};
  argv.insert(argv.end(), words.begin(), words.end());
  static int count = 0;
  std::string out = dir.path("control-" + std::to_string(++count) + ".out");
  std::string err = out + ".err";
  child_process child(argv, {}, out, err);
  control_run run;
  run.code = child.wait(30s);
  run.out = read_file(out);
  run.err = read_file(err);
  return run;
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof(address.sun_path));
  path.copy(address.sun_path, path.size());
  return address;
}

// A plain client connection; closes on destruction.
class raw_client {
public:
  explicit raw_client(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_un address = address_of(path);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  ~raw_client() { ::close(fd_); }

  void send(const std::string& text) const {
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size()));
  }
  void end_sending() const { ::shutdown(fd_, SHUT_WR); }
  int fd() const noexcept { return fd_; }
  // Whether a byte (or the end) is there to read now.
  bool readable_now() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // Everything the server sends until it closes, waiting up to slowed(`timeout`).
  std::string read_to_end(std::chrono::milliseconds timeout) const {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + slowed(timeout);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) return text + "<timeout>";
      char chunk[512];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return text;
      text.append(chunk, std::size_t(n));
    }
  }

private:
  int fd_;
};

// A listening socket of the test's own, to play a server that misbehaves.
class raw_listener {
public:
  explicit raw_listener(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_un address = address_of(path);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
  }
  raw_listener(const raw_listener&) = delete;
  raw_listener& operator=(const raw_listener&) = delete;
  ~raw_listener() { ::close(fd_); }
  // The next connection's descriptor, waiting up to slowed(`timeout`); -1 when none came.
  int accept(std::chrono::milliseconds timeout) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, int(slowed(timeout).count())) <= 0) return -1;
    return ::accept(fd_, nullptr, nullptr);
  }

private:
  int fd_;
};

// The bytes a client sent up to its first '\n' (included), waiting up to 10 s.
std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (line.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(slowed(10s).count())) <= 0 || ::read(fd, &c, 1) != 1) break;
    line += c;
  }
  return line;
}

// A socket file at `path` that nothing listens on: bound, then closed without unlinking.
void make_stale_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address = address_of(path);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  ::close(fd);
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  REQUIRE(S_ISSOCK(st.st_mode));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// What the directory holds besides the files named: the private directory of a bind
// must be gone.
std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().starts_with(".jobpatch-control-"))
      names.push_back(entry.path().filename().string());
  return names;
}

std::string refusal(const std::string& path) {
  boost::asio::io_context io;
  try {
    net::control_socket second(io, path, [](const control_command&) { return std::string(); });
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<not refused>";
}

} // namespace

TEST_CASE("control: status prints the run's JSON and exits 0") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  auto run = run_control(dir, path, {"status"});
  CHECK(run.code == 0);
  CHECK(run.out == status_reply + "\n");
  CHECK(run.err.empty());
  CHECK(host.engine.seen() == std::vector<std::string>{"status"});
}

TEST_CASE("control: each change reaches the handler in its canonical words") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  const std::vector<std::pair<std::vector<std::string>, std::string>> commands = {
      {{"pause"}, "pause"},
      {{"rate", "400"}, "rate 400"},
      {{"rate", "400.000"}, "rate 400"},
      {{"rate", "12.5"}, "rate 12.5"},
      {{"rate", "none"}, "rate none"},
      {{"connections", "auto"}, "connections auto"},
      {{"connections", "8"}, "connections 8"},
      {{"resume"}, "resume"},
  };
  std::vector<std::string> expected;
  for (const auto& [words, canonical] : commands) {
    CAPTURE(canonical);
    auto run = run_control(dir, path, words);
    CHECK(run.code == 0);
    CHECK(run.out == R"({"ok":true,"change":")" + canonical + "\"}\n");
    expected.push_back(canonical);
  }
  CHECK(host.engine.seen() == expected);
}

TEST_CASE("control: a bad command exits 2 and sends nothing") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  const std::vector<std::vector<std::string>> bad = {{},
                                                     {"Pause"},
                                                     {"status", "now"},
                                                     {"rate"},
                                                     {"rate", "0"},
                                                     {"rate", "-5"},
                                                     {"rate", "inf"},
                                                     {"rate", "400x"},
                                                     {"connections", "0"},
                                                     {"connections", "1025"},
                                                     {"connections", "8", "auto"}};
  for (const auto& words : bad) {
    auto run = run_control(dir, path, words);
    CHECK(run.code == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find("jobpatch: ") == 0);
    // Not even a connection: against nothing at all, still 2 (a connect would say 3).
    CHECK(run_control(dir, dir.path("absent.sock"), words).code == 2);
  }
  CHECK(run_control(dir, path, {"rate", "0"}).err.find("rate none lifts the limit") !=
        std::string::npos);
  // The first command to reach the handler is the one sent after them.
  CHECK(run_control(dir, path, {"status"}).code == 0);
  CHECK(host.engine.seen() == std::vector<std::string>{"status"});
}

TEST_CASE("control: the run's refusal exits 2 with its reply on stdout") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  auto refused = run_control(dir, path, {"connections", "1024"});
  CHECK(refused.code == 2);
  CHECK(refused.out == R"({"ok":false,"error":"not with this many"})"
                       "\n");
  // A handler that throws is answered as a refusal; the server goes on.
  auto threw = run_control(dir, path, {"connections", "1000"});
  CHECK(threw.code == 2);
  CHECK(threw.out == R"({"ok":false,"error":"the engine threw"})"
                     "\n");
  // A reply of two lines would be cut: it is not sent.
  auto split = run_control(dir, path, {"connections", "999"});
  CHECK(split.code == 2);
  CHECK(split.out == R"({"ok":false,"error":"the run's reply to connections 999 was not one line"})"
                     "\n");
  CHECK(run_control(dir, path, {"status"}).code == 0);
}

TEST_CASE("control: nothing listening exits 3") {
  temp_dir dir;
  auto missing = run_control(dir, dir.path("missing.sock"), {"status"});
  CHECK(missing.code == 3);
  CHECK(missing.err.find("nothing listens on " + dir.path("missing.sock")) != std::string::npos);

  std::string stale = dir.path("stale.sock");
  make_stale_socket(stale);
  auto run = run_control(dir, stale, {"pause"});
  CHECK(run.code == 3);
  CHECK(run.err.find("nothing listens on") != std::string::npos);

  std::string plain = dir.path("plain-file");
  write_file(plain, "not a socket\n");
  CHECK(run_control(dir, plain, {"status"}).code == 3);
  CHECK(run_control(dir, dir.path("no-dir/control.sock"), {"status"}).code == 3);
}

TEST_CASE("control: the socket file is 0600 while listening and gone after close") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  // A umask that would leave it open to everyone: the mode must not come from it.
  mode_t old_mask = ::umask(0);
  std::optional<hosted_control> host;
  host.emplace(path);
  ::umask(old_mask);
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == ::getuid());
  CHECK(leftovers(std::filesystem::path(path).parent_path()).empty());
  CHECK(run_control(dir, path, {"status"}).code == 0);

  host->close();
  CHECK(!exists(path));
  CHECK(run_control(dir, path, {"status"}).code == 3);
  host->close(); // idempotent
  host.reset();
  CHECK(host == std::nullopt);
}

TEST_CASE("control: close leaves a file that took the socket's place") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  std::string other = dir.path("other");
  write_file(other, "someone else's\n");
  REQUIRE(::rename(other.c_str(), path.c_str()) == 0);
  host.close();
  CHECK(read_file(path) == "someone else's\n");
}

TEST_CASE("control: a live socket at the path is refused and keeps working") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  struct stat before {};
  REQUIRE(::lstat(path.c_str(), &before) == 0);
  CHECK(refusal(path).find("something already listens there") != std::string::npos);
  CHECK_THROWS_WITH_AS(net::check_control_path(path),
                       doctest::Contains("something already listens there"), std::runtime_error);
  struct stat after {};
  REQUIRE(::lstat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(run_control(dir, path, {"status"}).code == 0);
  CHECK(leftovers(std::filesystem::path(path).parent_path()).empty());
}

TEST_CASE("control: a stale socket file is replaced") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  make_stale_socket(path);
  net::check_control_path(path);
  hosted_control host(path);
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(run_control(dir, path, {"status"}).code == 0);
}

TEST_CASE("control: what is not a socket is refused and left as it is") {
  temp_dir dir;
  std::string plain = dir.path("control.sock");
  write_file(plain, "mine\n");
  CHECK(refusal(plain).find("not a socket") != std::string::npos);
  CHECK(read_file(plain) == "mine\n");

  std::string link = dir.path("link.sock");
  std::string stale = dir.path("stale.sock");
  make_stale_socket(stale);
  REQUIRE(::symlink(stale.c_str(), link.c_str()) == 0);
  CHECK(refusal(link).find("not a socket") != std::string::npos);

  CHECK(refusal(dir.path("no-dir/control.sock")).find("does not exist") != std::string::npos);
  CHECK(refusal(plain + "/control.sock").find("is not a directory") != std::string::npos);
  CHECK(refusal(dir.path(std::string(120, 'x'))).find("at most 107") != std::string::npos);
  CHECK(refusal("").find("empty") != std::string::npos);
  CHECK_THROWS_WITH_AS(net::check_control_path(dir.path("no-dir/c.sock")),
                       doctest::Contains("does not exist"), std::runtime_error);
  CHECK_THROWS_WITH_AS(net::check_control_path(plain), doctest::Contains("not a socket"),
                       std::runtime_error);
  net::check_control_path(dir.path("free.sock")); // nothing there: fine
  CHECK(!exists(dir.path("free.sock")));
  CHECK(leftovers(std::filesystem::path(plain).parent_path()).empty());
}

TEST_CASE("control: a path too long to bind beside it is bound through its directory") {
  // The private directory's socket path would not fit a socket address; the path does.
  temp_dir dir;
  std::string parent = dir.path("");
  while (parent.size() < 96) parent += "d";
  std::filesystem::create_directories(parent);
  std::string path = parent + "/c";
  REQUIRE(path.size() < 108);
  REQUIRE(path.size() + 26 >= 108);
  hosted_control host(path);
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(run_control(dir, path, {"rate", "400"}).code == 0);
  CHECK(host.engine.seen() == std::vector<std::string>{"rate 400"});
  CHECK(leftovers(parent).empty());
}

TEST_CASE("control: a client that sends nothing does not hold up the next") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  raw_client idle(path);
  auto run = run_control(dir, path, {"status"});
  CHECK(run.code == 0);
  // Served while the idle one still waits for its answer.
  CHECK(!idle.readable_now());
  CHECK(idle.read_to_end(10s) == R"({"ok":false,"error":"no request line within 2 s"})"
                                 "\n");
}

TEST_CASE("control: clients filling every slot do not hold up the next for ever") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  std::vector<std::unique_ptr<raw_client>> idle;
  for (std::size_t i = 0; i < net::control_socket::max_connections + 2; ++i)
    idle.push_back(std::make_unique<raw_client>(path));
  // Waits in the backlog until the idle ones are timed out, well within its 5 s.
  auto run = run_control(dir, path, {"pause"});
  CHECK(run.code == 0);
  CHECK(host.engine.seen() == std::vector<std::string>{"pause"});
}

TEST_CASE("control: the server reads one line of at most 256 bytes") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  {
    raw_client longest(path); // 256 bytes and '\n': taken (runs of spaces separate)
    longest.send(std::string(250, ' ') + "status\n");
    CHECK(longest.read_to_end(10s) == status_reply + "\n");
  }
  {
    raw_client too_long(path);
    too_long.send(std::string(251, ' ') + "status\n");
    CHECK(too_long.read_to_end(10s) ==
          R"({"ok":false,"error":"the request line is longer than 256 bytes"})"
          "\n");
  }
  {
    raw_client unended(path);
    unended.send("status");
    unended.end_sending();
    CHECK(unended.read_to_end(10s) ==
          R"({"ok":false,"error":"the request line did not end with a newline"})"
          "\n");
  }
  {
    raw_client gone(path); // leaves at once: no reply, nothing handled
    gone.end_sending();
    CHECK(gone.read_to_end(10s).empty());
  }
  CHECK(host.engine.seen() == std::vector<std::string>{"status"});
}

TEST_CASE("control: the server parses again and trusts no client") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  for (const std::string& line :
       std::vector<std::string>{"rate 0\n", "Rate 5\n", "connections 0\n", "status now\n", "\n",
                                "rate 400\r\n", std::string("pause\0\n", 7)}) {
    CAPTURE(line);
    raw_client client(path);
    client.send(line);
    std::string reply = client.read_to_end(10s);
    CHECK(reply.starts_with(R"({"ok":false,"error":")"));
    CHECK(reply.ends_with("\"}\n"));
  }
  raw_client extra(path); // bytes after the line are not read as a second command
  extra.send("pause\nresume\n");
  CHECK(extra.read_to_end(10s) == R"({"ok":true,"change":"pause"})"
                                  "\n");
  CHECK(host.engine.wait_for(1, 10s));
  CHECK(host.engine.seen() == std::vector<std::string>{"pause"});
}

TEST_CASE("control: close ends the connections being served and calls no handler after") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  raw_client half(path);
  half.send("pau");
  {
    // Connections are taken in turn: once a later one is answered, `half` is being served.
    raw_client later(path);
    later.send("status\n");
    CHECK(later.read_to_end(10s) == status_reply + "\n");
  }
  host.close();
  (void)::send(half.fd(), "se\n", 3, MSG_NOSIGNAL);
  CHECK(half.read_to_end(10s).empty());
  CHECK(host.engine.seen() == std::vector<std::string>{"status"});
}

// As a run ends: the control socket closed while it serves a connection and listens, the
// loop stopped in the same handler, and everything destroyed. Boost 1.81's io_uring
// service destroys an operation left on a socket closed under it after the service it
// refers to (HACKING.md): ASan's use after free. The control socket leaves no operation
// pending on its descriptors.
TEST_CASE("control: closed while serving, then the loop stopped and destroyed") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  std::optional<raw_client> half;
  {
    boost::asio::io_context io;
    net::control_socket socket(io, path, [](const control_command&) { return status_reply; });
    socket.start();
    std::thread client([&] {
      half.emplace(path);
      half->send("pau");
      raw_client later(path); // once answered, `half` is being served
      later.send("status\n");
      CHECK(later.read_to_end(10s) == status_reply + "\n");
      boost::asio::post(io, [&] {
        socket.close();
        io.stop();
      });
    });
    io.run();
    client.join();
  }
  CHECK(half->read_to_end(10s).empty());
  CHECK(!exists(path));
}

TEST_CASE("control: a handler that closes the socket ends the connections unanswered") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  hosted_control host(path);
  raw_client waiting(path);
  waiting.send("sta");
  raw_client closing(path);
  closing.send("connections 998\n");
  CHECK(closing.read_to_end(10s).empty());
  (void)::send(waiting.fd(), "tus\n", 4, MSG_NOSIGNAL);
  CHECK(waiting.read_to_end(10s).empty());
  CHECK(host.engine.seen() == std::vector<std::string>{"connections 998"});
  CHECK(!exists(path));
}

TEST_CASE("control: a connection that ends without a reply exits 3") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  raw_listener server(path);
  for (const std::string& reply : {std::string(), std::string(R"({"ok":true)"),
                                   std::string("not json\n"), std::string("{\"ok\":1}\n")}) {
    CAPTURE(reply);
    std::string out = dir.path("dropped.out");
    child_process client({JOBPATCH_BIN, "control", path, "rate", "400.0"}, {}, out, out + ".err");
    int fd = server.accept(10s);
    REQUIRE(fd >= 0);
    // The canonical words and a newline are all that is sent.
    CHECK(read_line(fd) == "rate 400\n");
    CHECK(::write(fd, reply.data(), reply.size()) == ssize_t(reply.size()));
    ::close(fd);
    CHECK(client.wait(30s) == 3);
    CHECK(read_file(out).empty());
    CHECK(read_file(out + ".err").starts_with("jobpatch: "));
  }
}

TEST_CASE("control: no reply within 5 s exits 3") {
  temp_dir dir;
  std::string path = dir.path("control.sock");
  raw_listener server(path); // listens, never answers
  auto started = std::chrono::steady_clock::now();
  auto run = run_control(dir, path, {"status"});
  CHECK(run.code == 3);
  CHECK(run.err.find("no reply from " + path + " within 5 s") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started >= 5s);
}
