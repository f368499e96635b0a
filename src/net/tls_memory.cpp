#include "net/tls_memory.hpp"

#include "net/block_cache.hpp"

#include <openssl/crypto.h>

#include <cstddef>

namespace jobpatch::net {
namespace {

// OpenSSL's hook signatures carry the caller's file and line, unused here. OpenSSL passes
// realloc's null pointer and zero size through; block_cache gives them realloc's meaning.
void* tls_malloc(std::size_t bytes, const char*, int) { return thread_cache_allocate(bytes); }

void* tls_realloc(void* block, std::size_t bytes, const char*, int) {
  return thread_cache_reallocate(block, bytes);
}

void tls_free(void* block, const char*, int) { thread_cache_release(block); }

} // namespace

bool install_tls_memory() noexcept {
  return CRYPTO_set_mem_functions(tls_malloc, tls_realloc, tls_free) == 1;
}

} // namespace jobpatch::net
