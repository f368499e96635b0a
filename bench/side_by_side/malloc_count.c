/* LD_PRELOAD malloc counter for bench/side_by_side.sh and bench/per_request.sh: counts
 * malloc, calloc, realloc and the aligned allocations (aligned_alloc, posix_memalign,
 * memalign: Asio allocates coroutine frames and handlers with them) and writes the total
 * to $MALLOC_COUNT_OUT at exit. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static atomic_ulong calls;

void* malloc(size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}

void* aligned_alloc(size_t align, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_memalign(align, n);
}
void* memalign(size_t align, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  void* p = __libc_memalign(align, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}

__attribute__((destructor)) static void report(void) {
  const char* path = getenv("MALLOC_COUNT_OUT");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%lu\n", (unsigned long)atomic_load(&calls));
  fclose(f);
}
