#include <jobpatch/wire/secret_scrubber.hpp>

#include <jobpatch/text/utf8.hpp>

#include <algorithm>
#include <cstring>

namespace jobpatch {
namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits of a "\uXXXX" escape at text[at] (the backslash), or -1.
long unicode_escape(std::string_view text, std::size_t at) noexcept {
  if (text.size() - at < 6 || text[at + 1] != 'u') return -1;
  long value = 0;
  for (std::size_t k = 2; k < 6; ++k) {
    int d = hex_digit(text[at + k]);
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

// The bytes one escape in server text stands for.
struct decoded {
  char bytes[4] = {};
  std::size_t count = 0;  // 0: text[at] starts no escape
  std::size_t length = 0; // bytes of text it takes
};

decoded utf8_of(unsigned long cp, std::size_t length) noexcept {
  decoded d;
  d.length = length;
  auto put = [&](unsigned long b) { d.bytes[d.count++] = static_cast<char>(b); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
  return d;
}

// A JSON escape ("\/", "\n", "\u002d", a surrogate pair) or a percent-escape ("%2F",
// "%2f") at text[at].
decoded decode_escape(std::string_view text, std::size_t at) noexcept {
  decoded d;
  if (text[at] == '%') {
    if (text.size() - at < 3) return d;
    int high = hex_digit(text[at + 1]), low = hex_digit(text[at + 2]);
    if (high < 0 || low < 0) return d;
    d.bytes[0] = static_cast<char>(high * 16 + low);
    d.count = 1;
    d.length = 3;
    return d;
  }
  if (text.size() - at < 2) return d;
  static constexpr std::string_view escaped = "\"\\/bfnrt", meant = "\"\\/\b\f\n\r\t";
  if (auto k = escaped.find(text[at + 1]); k != std::string_view::npos) {
    d.bytes[0] = meant[k];
    d.count = 1;
    d.length = 2;
    return d;
  }
  long cp = unicode_escape(text, at);
  if (cp < 0) return d;
  if (cp >= 0xD800 && cp <= 0xDBFF) { // a high surrogate: its low one must follow
    long low = unicode_escape(text, at + 6);
    if (low < 0xDC00 || low > 0xDFFF) return d;
    return utf8_of(0x10000 + ((static_cast<unsigned long>(cp) - 0xD800) << 10) +
                       (static_cast<unsigned long>(low) - 0xDC00),
                   12);
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF) return d; // a lone low surrogate
  return utf8_of(static_cast<unsigned long>(cp), 6);
}

// Where `secret`, spelled any way, starting at text[at] ends in `text`; 0 when it does
// not start there. An escape is taken for what it stands for first, else for itself.
std::size_t spelled_at(std::string_view text, std::size_t at, std::string_view secret) noexcept {
  std::size_t p = at;
  for (std::size_t j = 0; j < secret.size();) {
    if (p >= text.size()) return 0;
    char c = text[p];
    if (c == '\\' || c == '%') {
      decoded d = decode_escape(text, p);
      if (d.count != 0 && d.count <= secret.size() - j &&
          std::memcmp(d.bytes, secret.data() + j, d.count) == 0) {
        j += d.count;
        p += d.length;
        continue;
      }
    }
    if (c != secret[j]) return 0;
    ++j;
    ++p;
    // Plain bytes up to the next possible escape compare at once (a long token would
    // otherwise be compared byte by byte at every position of a long text).
    std::size_t run = std::min(secret.size() - j, text.size() - p);
    for (char escape : {'\\', '%'})
      if (const void* e = std::memchr(text.data() + p, escape, run))
        run = static_cast<std::size_t>(static_cast<const char*>(e) - (text.data() + p));
    if (std::memcmp(text.data() + p, secret.data() + j, run) != 0) return 0;
    j += run;
    p += run;
  }
  return p;
}

// The tail of `s` from `from` on made safe to print on a terminal: control characters
// (C0, DEL and the C1 range U+0080..U+009F, which includes the 8-bit CSI) and the
// invisible format controls (bidirectional overrides among them) become spaces and bytes
// that are not UTF-8 become '?', so server text cannot carry terminal escape sequences
// into stderr. No copy when it is safe already.
void make_printable(std::string& s, std::size_t from) {
  std::size_t i = from;
  while (i < s.size()) {
    std::size_t length = utf8_sequence_length(s, i);
    if (length == 0 || is_unsafe_on_terminal(utf8_code_point(s, i, length))) break;
    i += length;
  }
  if (i == s.size()) return;
  std::string out = s.substr(i);
  s.resize(i);
  for (std::size_t k = 0; k < out.size();) {
    std::size_t length = utf8_sequence_length(out, k);
    if (length == 0) {
      s += '?';
      ++k;
      continue;
    }
    if (is_unsafe_on_terminal(utf8_code_point(out, k, length)))
      s += ' ';
    else
      s.append(out, k, length);
    k += length;
  }
}

} // namespace

void secret_scrubber::insert(std::string_view text, std::uint64_t owner) {
  auto same = std::find_if(secrets_.begin(), secrets_.end(),
                           [&](const secret& s) { return s.text == text; });
  if (same != secrets_.end()) {
    if (same->owner != permanent) same->owner = owner; // a token issued again
    return;
  }
  secrets_.push_back({std::string(text), owner});
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const secret& a, const secret& b) { return a.text.size() > b.text.size(); });
}

void secret_scrubber::add_permanent(std::string_view secret) {
  if (secret.size() < min_secret_length) return;
  insert(secret, permanent);
}

void secret_scrubber::add_token(std::string_view token) {
  if (token.size() < min_secret_length) return;
  insert(token, ++generation_);
  token_generations_.push_back(generation_);
  // A generation whose token was issued again, or is also a permanent secret, holds nothing.
  auto bytes_of = [&](std::uint64_t generation) {
    std::size_t n = 0;
    for (const auto& s : secrets_)
      if (s.owner == generation) n += s.text.size();
    return n;
  };
  std::erase_if(token_generations_, [&](std::uint64_t g) { return bytes_of(g) == 0; });
  std::size_t token_bytes = 0;
  for (auto g : token_generations_) token_bytes += bytes_of(g);
  while (token_generations_.size() > 2 && token_bytes > token_budget_bytes) {
    auto oldest = token_generations_.front();
    token_bytes -= bytes_of(oldest);
    std::erase_if(secrets_, [&](const secret& s) { return s.owner == oldest; });
    token_generations_.pop_front();
  }
}

std::size_t secret_scrubber::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& s : secrets_) n += s.text.size();
  return n;
}

std::size_t secret_scrubber::match_at(std::string_view text, std::size_t at) const {
  char c = text[at];
  for (const auto& s : secrets_) {
    if (c != s.text[0] && c != '\\' && c != '%') continue;
    if (std::size_t end = spelled_at(text, at, s.text); end != 0) return end;
  }
  return 0;
}

bool secret_scrubber::holds_secret(std::string_view text) const {
  for (std::size_t at = 0; at < text.size(); ++at)
    if (match_at(text, at) != 0) return true;
  return false;
}

std::string secret_scrubber::scrub(std::string_view text) const {
  std::string out(text);
  scrub_in_place(out);
  return out;
}

void secret_scrubber::scrub_in_place(std::string& text) const {
  std::string out;
  std::size_t copied = 0; // text before this is in `out`
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = match_at(text, at);
    if (end == 0) {
      ++at;
      continue;
    }
    out.append(text, copied, at - copied);
    out += mask;
    copied = at = end;
  }
  if (copied == 0) return; // nothing matched (a match never ends at 0)
  out.append(text, copied);
  text.swap(out);
}

std::string secret_scrubber::shown(server_text text) const {
  std::string out;
  append_shown(out, text);
  return out;
}

void secret_scrubber::append_shown(std::string& out, server_text text) const {
  std::string_view raw = text.raw_;
  std::size_t max = text.max_shown_, start = out.size();
  // Scrub until more than `max` bytes are out: a secret that starts within them is matched
  // against the whole text, so it goes whole however far past the cut it reaches.
  std::size_t at = 0;
  while (at < raw.size() && out.size() - start <= max) {
    std::size_t end = match_at(raw, at);
    if (end != 0) {
      out += mask;
      at = end;
    } else {
      out += raw[at++];
    }
  }
  make_printable(out, start);
  while (out.size() > start && out.back() == ' ') out.pop_back();
  if (at == raw.size() && out.size() - start <= max) return;
  std::size_t cut = std::min(out.size(), start + max);
  while (cut > start && cut < out.size() && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
    --cut;
  out.resize(cut);
  out += "...";
}

} // namespace jobpatch
