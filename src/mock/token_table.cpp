#include "mock/token_table.hpp"

namespace jobpatch::mock {

token_table::token_table(std::chrono::seconds ttl) : ttl_(ttl), random_(std::random_device{}()) {}

std::string token_table::issue(clock::time_point now) {
  static constexpr char hex[] = "0123456789abcdef";
  std::lock_guard lock(mutex_);
  if (expiry_.size() >= prune_at_) prune(now);
  std::string token = "mock.";
  for (int word = 0; word < 2; ++word) {
    std::uint64_t r = random_();
    for (int i = 0; i < 16; ++i, r >>= 4) token += hex[r & 15];
  }
  expiry_[token] = now + ttl_;
  ++issued_;
  return token;
}

token_status token_table::check(std::string_view authorization, clock::time_point now) const {
  if (authorization.starts_with("Bearer ")) authorization.remove_prefix(7);
  if (authorization.empty()) return token_status::missing;
  std::lock_guard lock(mutex_);
  auto it = expiry_.find(authorization);
  if (it == expiry_.end()) return token_status::unknown;
  return now < it->second ? token_status::valid : token_status::expired;
}

std::uint64_t token_table::issued() const {
  std::lock_guard lock(mutex_);
  return issued_;
}

void token_table::prune(clock::time_point now) {
  // Forget tokens expired for more than an hour; grow the threshold with what remains.
  std::erase_if(expiry_,
                [&](const auto& entry) { return entry.second + std::chrono::hours(1) < now; });
  prune_at_ = std::max<std::size_t>(1024, expiry_.size() * 2);
}

const char* to_string(token_status status) noexcept {
  switch (status) {
  case token_status::valid:
    return "valid";
  case token_status::missing:
    return "missing Authorization header";
  case token_status::unknown:
    return "invalid access token";
  case token_status::expired:
    return "access token expired";
  }
  return "?";
}

} // namespace jobpatch::mock
