#include "net/io_backend.hpp"

#include <boost/asio/detail/config.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#include <liburing.h>
#endif

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace jobpatch::net {

namespace {

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
constexpr bool io_uring_build = true;
// The entries of the ring Asio's io_uring service sets up (its private ring_size, Boost
// 1.81): a kernel older than 5.12 counts the ring against RLIMIT_MEMLOCK, which may refuse
// a ring that large where a small one passes.
constexpr unsigned asio_ring_entries = 16384;
#else
constexpr bool io_uring_build = false;
#endif

// The directory of this program: /proc/self/exe's, or argv[0]'s when /proc is not mounted
// (a bare chroot). Empty when neither says.
std::string own_directory(const char* argv0) {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  std::string self =
      n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string(argv0 ? argv0 : "");
  std::size_t slash = self.rfind('/');
  return slash == std::string::npos ? std::string() : self.substr(0, slash + 1);
}

} // namespace

std::string io_backend_text() {
  if (io_uring_build) return "io_uring";
  const char* refused = std::getenv(refusal_variable);
  if (refused && *refused)
    return std::string("epoll (the kernel refused io_uring: ") + refused + ")";
  return "epoll";
}

std::string io_uring_refusal() {
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
  ::io_uring ring{};
  int result = ::io_uring_queue_init(asio_ring_entries, &ring, 0);
  if (result < 0) return std::string("io_uring_setup: ") + std::strerror(-result);
  std::string missing;
  // Without fast poll (Linux 5.7) a receive that must wait blocks a kernel worker thread.
  if ((ring.features & IORING_FEAT_FAST_POLL) == 0) missing = "fast poll (Linux 5.7)";
  if (::io_uring_probe* probe = ::io_uring_get_probe_ring(&ring)) {
    // What Asio submits for sockets, timers and signals, and its cancels.
    for (int op :
         {IORING_OP_NOP, IORING_OP_POLL_ADD, IORING_OP_SENDMSG, IORING_OP_RECVMSG,
          IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_CONNECT})
      if (!::io_uring_opcode_supported(probe, op) && missing.empty())
        missing = "operation " + std::to_string(op);
    ::io_uring_free_probe(probe);
  } else if (missing.empty()) {
    missing = "the operations probe (Linux 5.6)";
  }
  ::io_uring_queue_exit(&ring);
  return missing.empty() ? std::string() : "io_uring without " + missing;
#else
  return {};
#endif
}

void run_on_a_backend_the_kernel_allows(char** argv) {
  if (!io_uring_build) return;
  std::string refusal = io_uring_refusal();
  if (refusal.empty()) return;
  // Beside this program; or, when nothing says where this program is, on the PATH it was
  // found on.
  std::string directory = own_directory(argv[0]);
  std::string program = directory + epoll_program;
  ::setenv(refusal_variable, refusal.c_str(), 1);
  if (directory.empty())
    ::execvp(program.c_str(), argv);
  else
    ::execv(program.c_str(), argv);
  int error = errno; // only reached when the exec failed
  ::unsetenv(refusal_variable);
  throw std::runtime_error(
      "the kernel refuses io_uring (" + refusal + "), and " + program +
      ", the build of jobpatch for such kernels, cannot be run: " + std::strerror(error));
}

} // namespace jobpatch::net
