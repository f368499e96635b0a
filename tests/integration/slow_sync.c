/* LD_PRELOAD shim for tests/integration/test_disk_stall.cpp: a disk that stalls. Every
 * fdatasync, fsync and syncfs first sleeps $SLOW_SYNC_MS milliseconds (default 200), then
 * makes the real call (a raw system call: no dlsym, no allocation). The number of stalls
 * is written to $SLOW_SYNC_COUNT_OUT at exit, so a test can tell the shim was in effect. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong stalls;

static void stall(void) {
  atomic_fetch_add_explicit(&stalls, 1, memory_order_relaxed);
  const char* text = getenv("SLOW_SYNC_MS");
  long ms = text ? atol(text) : 200;
  struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) != 0) {
  }
}

int fdatasync(int fd) {
  stall();
  return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd) {
  stall();
  return (int)syscall(SYS_fsync, fd);
}

int syncfs(int fd) {
  stall();
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
