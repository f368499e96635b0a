#pragma once
// Removes secrets (the API key, every access token issued during the run) from text that
// came from a server before it reaches any output: a token endpoint or a PATCH that
// quotes the request in its error body must not put the key or the token into stderr,
// results, the summary, metrics or the failed-lines manifest. Pure; not thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

class secret_scrubber {
public:
  // Shorter secrets are not scrubbed: replacing every "t" would garble the text, and a
  // secret that short protects nothing anyway.
  static constexpr std::size_t min_secret_length = 4;
  static constexpr std::string_view mask = "[redacted]";

  // Adds a secret to remove from now on (the key, each new token; old ones are kept).
  // Its JSON-escaped and percent-encoded spellings are removed too.
  void add(std::string_view secret);
  // `text` with every occurrence of every secret replaced by `mask`.
  std::string scrub(std::string_view text) const;
  void scrub_in_place(std::string& text) const;

private:
  std::vector<std::string> secrets_; // longest first, so a prefix never hides a longer one
};

} // namespace jobpatch
