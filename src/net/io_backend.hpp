#pragma once
// Which of Asio's backends this program runs on, and the way to the other one.
//
// A build with JOBPATCH_IO_URING runs every socket and timer on io_uring (Asio's
// BOOST_ASIO_DISABLE_EPOLL): a connection's send and receive are operations of the ring,
// submitted with the other connections' in one system call. Asio's backends are macros, so
// one program holds one of them; the build also makes jobpatch-epoll, the same program on
// epoll, and installs it beside jobpatch. Where the kernel refuses io_uring (a seccomp
// profile, kernel.io_uring_disabled, a kernel without it), jobpatch becomes jobpatch-epoll
// (exec) before it does anything else.
//
// No Asio here: main() and the command line include this.

#include <string>

namespace jobpatch::net {

// The program that runs on epoll, looked for in the directory of /proc/self/exe.
inline constexpr const char* epoll_program = "jobpatch-epoll";
// Set by jobpatch for jobpatch-epoll: why the kernel refused io_uring.
inline constexpr const char* refusal_variable = "JOBPATCH_IO_URING_REFUSED";

// "io_uring" or "epoll", and on epoll after a refusal, why ("epoll (the kernel refused
// io_uring: io_uring_setup: Operation not permitted)"): `jobpatch --version` says it.
std::string io_backend_text();

// Empty when this program's backend can run here (epoll always can); otherwise why not:
// setting up a ring of the size Asio asks for failed, or the kernel lacks an operation or
// feature that Asio's service relies on.
std::string io_uring_refusal();

// In an io_uring build on a kernel that refuses it: replaces this process with
// jobpatch-epoll beside it, with the same arguments (argv, null-terminated), and says
// nothing. Returns when this program can run here. Throws std::runtime_error naming the
// refusal when no jobpatch-epoll can be run.
void run_on_a_backend_the_kernel_allows(char** argv);

} // namespace jobpatch::net
