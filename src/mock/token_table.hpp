#pragma once
// Access tokens the mock has issued, each with its expiry.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobpatch::mock {

enum class token_status { valid, missing, unknown, expired };

// Thread-safe. Expired tokens stay known (so a client is told "expired", not "unknown")
// until they are pruned, a while after expiry.
class token_table {
public:
  using clock = std::chrono::steady_clock;

  explicit token_table(std::chrono::seconds ttl);

  // A new random token valid for ttl() from `now`.
  std::string issue(clock::time_point now);
  // Checks an Authorization header value: the raw token, or "Bearer <token>".
  token_status check(std::string_view authorization, clock::time_point now) const;

  std::chrono::seconds ttl() const noexcept { return ttl_; }
  std::uint64_t issued() const;

private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  void prune(clock::time_point now);

  std::chrono::seconds ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, clock::time_point, string_hash, std::equal_to<>> expiry_;
  std::mt19937_64 random_;
  std::uint64_t issued_ = 0;
  std::size_t prune_at_ = 1024;
};

const char* to_string(token_status status) noexcept;

} // namespace jobpatch::mock
