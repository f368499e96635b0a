#pragma once
// Removes secrets (the API key, a proxy's credentials, the access tokens still in use)
// from text that came from a server before it reaches any output: a token endpoint or a
// PATCH that quotes the request in its error body must not put the key or the token into
// stderr, results, the summary, metrics or the failed-lines manifest. Pure; not
// thread-safe.
//
// Bounded: a run that refreshes its token every few seconds for a day must not hold every
// token it was ever issued. The long-lived secrets are kept for good; of the tokens, the
// current and the previous one always (a request sent with the previous token may still be
// answered after a refresh, quoting it), older ones only while all kept tokens' forms fit
// in token_budget_bytes. So the tokens' forms take at most
// max(token_budget_bytes, the two newest tokens' forms) bytes, a token of n bytes having
// forms of at most 6n (itself, JSON-escaped, percent-encoded; a token is visible ASCII).

#include <cstddef>
#include <cstdint>
#include <deque>
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
  // Tokens older than the previous one are kept while all kept tokens' forms fit here.
  static constexpr std::size_t token_budget_bytes = std::size_t{64} << 10;

  // A secret to remove for the scrubber's whole life (the API key, a proxy's password).
  // Its JSON-escaped and percent-encoded spellings are removed too.
  void add_permanent(std::string_view secret);
  // A new access token, which supersedes the previous one (see the bound above).
  void add_token(std::string_view token);

  // `text` with every occurrence of every secret replaced by `mask`.
  std::string scrub(std::string_view text) const;
  void scrub_in_place(std::string& text) const;

  // Bytes of all the forms held (the figure the bound above is about).
  std::size_t bytes() const noexcept;
  // How many tokens are held.
  std::size_t tokens() const noexcept { return token_generations_.size(); }

private:
  static constexpr std::uint64_t permanent = 0;
  struct form {
    std::string text;
    std::uint64_t owner; // permanent, or the token's generation
  };
  void insert(std::string_view secret, std::uint64_t owner);

  std::vector<form> forms_; // longest first, so a prefix never hides a longer one
  std::deque<std::uint64_t> token_generations_; // of the tokens held, oldest first
  std::uint64_t generation_ = permanent;
};

} // namespace jobpatch
