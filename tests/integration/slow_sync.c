/* LD_PRELOAD shim over fdatasync, fsync and syncfs, for the integration tests: a disk that
 * stalls, and a log of every sync a program makes. Each call first sleeps, then logs, then
 * makes the real call (a raw system call: no dlsym).
 *
 *   SLOW_SYNC_MS=N         sleep N ms per call (default 200, or 0 when SYNC_LOG is set)
 *   SLOW_SYNC_COUNT_OUT=F  at exit, write the number of calls to F
 *   SYNC_LOG=F             append one line per call to F: "CALL SIZE PATH", the call's name
 *                          (fdatasync, fsync, syncfs), the file's size when it was called
 *                          and its path (readlink of /proc/self/fd/N); one write(2) of a
 *                          whole line, O_APPEND, so threads never interleave lines
 *   SYNC_FAIL=SUFFIX       fdatasync of a file whose path ends with SUFFIX fails with EIO
 *                          (after the sleep, without syncing): a disk that cannot sync
 *
 * tests/integration/sync_log.hpp reads the log (test_fsync_interval.cpp counts the results
 * file's fdatasyncs with it); test_disk_stall.cpp stalls them. Built as the `slow_sync`
 * module, its path in JOBPATCH_SLOW_SYNC_SO (not with sanitizers: their runtime must be
 * loaded before any preload). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong stalls;

static void stall(void) {
  atomic_fetch_add_explicit(&stalls, 1, memory_order_relaxed);
  const char* text = getenv("SLOW_SYNC_MS");
  long ms = text ? atol(text) : getenv("SYNC_LOG") ? 0 : 200;
  if (ms <= 0) return;
  struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) != 0) {
  }
}

static void append_line(const char* log, const char* call, int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  path[n < 0 ? 0 : n] = '\0';
  struct stat st;
  long long size = fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
  char line[4200];
  int length = snprintf(line, sizeof line, "%s %lld %s\n", call, size, path);
  if (length <= 0 || length >= (int)sizeof line) return;
  int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return;
  ssize_t written = write(out, line, (size_t)length);
  (void)written;
  close(out);
}

static void log_call(const char* call, int fd) {
  const char* log = getenv("SYNC_LOG");
  if (!log) return;
  int saved_errno = errno; /* the caller reads errno after the real call only */
  append_line(log, call, fd);
  errno = saved_errno;
}

/* Whether `fd`'s path ends with $SYNC_FAIL. */
static int fails(int fd) {
  const char* suffix = getenv("SYNC_FAIL");
  if (!suffix || !*suffix) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  size_t length = strlen(suffix);
  return (size_t)n >= length && strcmp(path + n - length, suffix) == 0;
}

int fdatasync(int fd) {
  stall();
  log_call("fdatasync", fd);
  if (fails(fd)) {
    errno = EIO;
    return -1;
  }
  return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd) {
  stall();
  log_call("fsync", fd);
  return (int)syscall(SYS_fsync, fd);
}

int syncfs(int fd) {
  stall();
  log_call("syncfs", fd);
  return (int)syscall(SYS_syncfs, fd);
}

__attribute__((destructor)) static void report(void) {
  const char* path = getenv("SLOW_SYNC_COUNT_OUT");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%lu\n", atomic_load(&stalls));
  fclose(f);
}
