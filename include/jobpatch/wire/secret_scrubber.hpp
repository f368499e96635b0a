#pragma once
// Removes secrets (the API key, a proxy's credentials, the access tokens still in use)
// from text that came from a server before it reaches any output: a token endpoint or a
// PATCH that quotes the request in its error body must not put the key or the token into
// stderr, results, the summary, metrics or the failed-lines manifest. Pure; not
// thread-safe.
//
// Every spelling: a secret is found however each of its characters is written, as is,
// JSON-escaped in any legal form ("\/", "\u002d", "\u002D", a surrogate pair) or
// percent-encoded (either case of hex), mixed within one occurrence. So the scrubber keeps
// each secret once, as is, and decodes the text while it matches.
//
// Scrubbed, then cut: shown() scrubs a server text over its shown part plus the longest
// spelling of any secret (6 bytes per byte, "\u00XX") before cutting it, so a secret that
// straddles the cut is removed whole, never shown in part.
//
// Bounded: a run that refreshes its token every few seconds for a day must not hold every
// token it was ever issued. The long-lived secrets are kept for good; of the tokens, the
// current and the previous one always (a request sent with the previous token may still be
// answered after a refresh, quoting it), older ones only while all kept tokens fit in
// token_budget_bytes. So the tokens take at most max(token_budget_bytes, the two newest
// tokens' sizes) bytes.

#include <jobpatch/wire/server_text.hpp>

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
  // Tokens older than the previous one are kept while all kept tokens fit here.
  static constexpr std::size_t token_budget_bytes = std::size_t{64} << 10;
  // The longest spelling of one byte of a secret ("\u00XX").
  static constexpr std::size_t max_spelling_bytes = 6;

  // A secret to remove for the scrubber's whole life (the API key, a proxy's password).
  void add_permanent(std::string_view secret);
  // A new access token, which supersedes the previous one (see the bound above).
  void add_token(std::string_view token);

  // `text` with every occurrence of every secret, in any spelling, replaced by `mask`.
  std::string scrub(std::string_view text) const;
  void scrub_in_place(std::string& text) const;
  // Whether `text` holds a secret in any spelling.
  bool holds_secret(std::string_view text) const;

  // A server text as it may be shown: scrubbed (see above), made printable (controls and
  // invisible format characters become spaces, bytes that are not UTF-8 '?', trailing
  // spaces dropped), then cut to its max_shown bytes ("..." marking the cut).
  std::string shown(server_text text) const;
  // The same, appended to `out`.
  void append_shown(std::string& out, server_text text) const;

  // Bytes of all the secrets held (the figure the bound above is about).
  std::size_t bytes() const noexcept;
  // How many tokens are held.
  std::size_t tokens() const noexcept { return token_generations_.size(); }

private:
  static constexpr std::uint64_t permanent = 0;
  struct secret {
    std::string text;
    std::uint64_t owner; // permanent, or the token's generation
  };
  void insert(std::string_view text, std::uint64_t owner);
  // Where the occurrence of a secret starting at text[at] ends, or 0 when none starts there.
  std::size_t match_at(std::string_view text, std::size_t at) const;

  std::vector<secret> secrets_; // longest first, so a prefix never hides a longer one
  std::deque<std::uint64_t> token_generations_; // of the tokens held, oldest first
  std::uint64_t generation_ = permanent;
};

} // namespace jobpatch
