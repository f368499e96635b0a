#include <jobpatch/wire/secret_scrubber.hpp>

#include <algorithm>

namespace jobpatch {
namespace {

// The secret as it reads inside a JSON string (a server echoing a JSON body).
std::string json_escaped(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// The secret percent-encoded (a server echoing a URL or a form).
std::string percent_encoded(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

} // namespace

void secret_scrubber::insert(std::string_view secret, std::uint64_t owner) {
  for (std::string text : {std::string(secret), json_escaped(secret), percent_encoded(secret)}) {
    auto same =
        std::find_if(forms_.begin(), forms_.end(), [&](const form& f) { return f.text == text; });
    if (same == forms_.end())
      forms_.push_back({std::move(text), owner});
    else if (same->owner != permanent) // a token issued again, or a token that is also a key
      same->owner = owner;
  }
  std::stable_sort(forms_.begin(), forms_.end(),
                   [](const form& a, const form& b) { return a.text.size() > b.text.size(); });
}

void secret_scrubber::add_permanent(std::string_view secret) {
  if (secret.size() < min_secret_length) return;
  insert(secret, permanent);
}

void secret_scrubber::add_token(std::string_view token) {
  if (token.size() < min_secret_length) return;
  insert(token, ++generation_);
  token_generations_.push_back(generation_);
  // Generations whose forms all went to a newer token or a permanent secret hold nothing.
  auto bytes_of = [&](std::uint64_t generation) {
    std::size_t n = 0;
    for (const auto& f : forms_)
      if (f.owner == generation) n += f.text.size();
    return n;
  };
  std::erase_if(token_generations_, [&](std::uint64_t g) { return bytes_of(g) == 0; });
  std::size_t token_bytes = 0;
  for (auto g : token_generations_) token_bytes += bytes_of(g);
  while (token_generations_.size() > 2 && token_bytes > token_budget_bytes) {
    auto oldest = token_generations_.front();
    token_bytes -= bytes_of(oldest);
    std::erase_if(forms_, [&](const form& f) { return f.owner == oldest; });
    token_generations_.pop_front();
  }
}

std::size_t secret_scrubber::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& f : forms_) n += f.text.size();
  return n;
}

std::string secret_scrubber::scrub(std::string_view text) const {
  std::string out(text);
  scrub_in_place(out);
  return out;
}

void secret_scrubber::scrub_in_place(std::string& text) const {
  for (const auto& f : forms_) {
    for (std::size_t at = text.find(f.text); at != std::string::npos;
         at = text.find(f.text, at + mask.size()))
      text.replace(at, f.text.size(), mask);
  }
}

} // namespace jobpatch
