/* Runs a command on a kernel that refuses io_uring, as a container's seccomp profile (the
 * default of Docker and containerd) or `sysctl kernel.io_uring_disabled=2` does: a seccomp
 * filter makes io_uring_setup fail with EPERM for the command and everything it runs, then
 * the command is executed.
 *
 *   deny_io_uring PROGRAM [ARGS...]
 *
 * test_io_backend.cpp runs jobpatch under it (a build on io_uring must then become
 * jobpatch-epoll). Needs no privilege: PR_SET_NO_NEW_PRIVS first. Exits 127 when the filter
 * cannot be installed or the program cannot be run. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_io_uring: name this architecture's AUDIT_ARCH_*"
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: deny_io_uring PROGRAM [ARGS...]\n");
    return 127;
  }
  struct sock_filter filter[] = {
      /* Another architecture's system call numbers mean other calls: let them be. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    fprintf(stderr, "deny_io_uring: cannot install the seccomp filter: %s\n", strerror(errno));
    return 127;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "deny_io_uring: cannot run %s: %s\n", argv[1], strerror(errno));
  return 127;
}
