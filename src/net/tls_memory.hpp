#pragma once
// OpenSSL's allocations through the per-thread recycling cache of block_cache.hpp.
// OpenSSL 3.0 allocates and frees a few small blocks inside every SSL_read and SSL_write
// (about 4 heap calls per request, nothing a client can configure away); from the cache
// they cost none in steady state.

namespace jobpatch::net {

// Installs the cache as OpenSSL's allocator. Only possible before OpenSSL's first
// allocation, so call it first thing in main; false when it was too late (OpenSSL then
// keeps its default allocator, which is just as correct).
//
// Kept in sanitizer builds too: Debian's libcrypto is not instrumented, so ASan never saw
// its accesses to its own blocks anyway, and LeakSanitizer then checks the cache's exit
// path in every integration test.
bool install_tls_memory() noexcept;

} // namespace jobpatch::net
