#include <jobpatch/wire/proxy_config.hpp>

#include <boost/url/parse.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace jobpatch {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool valid_port(std::string_view port) {
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc{} && end == port.data() + port.size() && value >= 1 &&
         value <= 65535;
}

// An IP address in network byte order; `family` 0 when `text` is not an IP literal.
struct ip_address {
  int family = 0;
  std::array<unsigned char, 16> bytes{};
  std::size_t bits() const { return family == AF_INET ? 32 : 128; }
};

ip_address parse_ip(std::string_view text) {
  ip_address ip;
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1)
    ip.family = AF_INET;
  else if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1)
    ip.family = AF_INET6;
  return ip;
}

// The first `prefix` bits of `a` and `b` agree.
bool same_prefix(const ip_address& a, const ip_address& b, std::size_t prefix) {
  if (a.family != b.family || prefix > a.bits()) return false;
  std::size_t whole = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), whole) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

// Splits "name:port", "[v6]:port", "v4:port" into address and port; an unbracketed IPv6
// literal (more than one ':') has no port.
void split_port(std::string_view entry, std::string_view& address, std::string_view& port) {
  address = entry;
  port = {};
  if (entry.starts_with("[")) {
    auto close = entry.find(']');
    if (close == std::string_view::npos) return;
    address = entry.substr(1, close - 1);
    if (close + 1 < entry.size() && entry[close + 1] == ':') port = entry.substr(close + 2);
    return;
  }
  auto colon = entry.find(':');
  if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos)
    return;
  address = entry.substr(0, colon);
  port = entry.substr(colon + 1);
}

// One NO_PROXY entry (trimmed, non-empty) against the host.
bool entry_matches(std::string_view entry, const std::string& host, const ip_address& host_ip,
                   std::string_view port) {
  if (entry == "*") return true;
  // CIDR: "10.0.0.0/8", "fd00::/8", "[fd00::]/8".
  if (auto slash = entry.find('/'); slash != std::string_view::npos) {
    if (!host_ip.family) return false;
    ip_address range = parse_ip(entry.substr(0, slash));
    std::string_view bits = entry.substr(slash + 1);
    std::size_t prefix = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (!range.family || ec != std::errc{} || end != bits.data() + bits.size() || bits.empty())
      return false;
    return same_prefix(host_ip, range, prefix);
  }
  std::string_view address, entry_port;
  split_port(entry, address, entry_port);
  if (!entry_port.empty() && entry_port != port) return false;
  if (ip_address ip = parse_ip(address); ip.family)
    return host_ip.family && same_prefix(host_ip, ip, ip.bits());
  if (host_ip.family) return false; // a name never matches an address
  std::string name = lower(address);
  if (name.starts_with("*.")) name.erase(0, 1); // "*.example.com" as ".example.com"
  if (name.starts_with(".")) name.erase(0, 1);
  while (name.ends_with(".")) name.pop_back();
  if (name.empty()) return false;
  if (host == name) return true;
  return host.size() > name.size() && host.ends_with(name) &&
         host[host.size() - name.size() - 1] == '.';
}

} // namespace

std::string authority_of(std::string_view host, std::string_view port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += port;
  return out;
}

std::string proxy_endpoint::display() const { return "http://" + authority_of(host, port); }

proxy_endpoint parse_proxy_url(std::string_view url, std::string_view origin) {
  std::string text(url);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  // Never quote `url` in a message: it may hold a password.
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument(std::string(origin) + ": " + why);
  };
  if (text.find("://") == std::string::npos) text = "http://" + text;
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) refuse("is not a proxy URL (expected http://[user:password@]host[:port])");
  std::string scheme = lower(parsed->scheme());
  if (scheme != "http")
    refuse("only http:// proxies are supported (tunnels carry TLS end to end), not " + scheme +
           "://");
  if (parsed->has_query() || parsed->has_fragment() ||
      (!parsed->encoded_path().empty() && parsed->encoded_path() != "/"))
    refuse("a proxy URL has no path, query or fragment");
  proxy_endpoint proxy;
  proxy.host = parsed->host_address();
  if (proxy.host.empty()) refuse("the proxy URL has no host");
  for (char c : proxy.host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
      refuse("the proxy host holds characters that cannot be sent");
  proxy.port = parsed->has_port() ? std::string(parsed->port()) : "1080";
  if (!valid_port(proxy.port)) refuse("the proxy port must be 1 to 65535");
  if (parsed->has_userinfo()) {
    std::string user = parsed->user();
    proxy.password = parsed->password();
    proxy.authorization = "Basic " + base64_encode(user + ":" + proxy.password);
  }
  return proxy;
}

std::string redacted_proxy_url(std::string_view url) {
  std::string text(url);
  if (text.find("://") == std::string::npos) text = "http://" + text;
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return "[redacted]";
  if (!parsed->has_userinfo()) return std::string(url);
  std::string out(parsed->scheme());
  out += "://[redacted]@";
  out += parsed->encoded_host_and_port();
  return out;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host_in, std::string_view port) {
  std::string host = lower(host_in);
  while (host.ends_with(".")) host.pop_back();
  ip_address host_ip = parse_ip(host);
  std::size_t at = 0;
  while (at < no_proxy.size()) {
    std::size_t end = no_proxy.find_first_of(", \t", at);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string_view entry = no_proxy.substr(at, end - at);
    at = end + 1;
    if (!entry.empty() && entry_matches(entry, host, host_ip, port)) return true;
  }
  return false;
}

std::optional<proxy_endpoint> select_proxy(const proxy_settings& settings, bool tls,
                                           std::string_view host, std::string_view port) {
  std::string_view url = settings.proxy_url;
  std::string_view origin = "--proxy";
  if (url.empty()) {
    url = tls ? settings.https_proxy : settings.http_proxy;
    origin = tls ? "HTTPS_PROXY" : "HTTP_PROXY";
  }
  if (url.empty() || no_proxy_matches(settings.no_proxy_list, host, port)) return std::nullopt;
  return parse_proxy_url(url, origin);
}

std::string connect_request(const proxy_endpoint& proxy, std::string_view host,
                            std::string_view port, std::string_view user_agent) {
  std::string target = authority_of(host, port);
  std::string out = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy.authorization.empty()) out += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  out += "User-Agent: ";
  out += user_agent;
  out += "\r\n\r\n";
  return out;
}

std::string base64_encode(std::string_view data) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    auto n = (std::uint32_t(static_cast<unsigned char>(data[i])) << 16) |
             (std::uint32_t(static_cast<unsigned char>(data[i + 1])) << 8) |
             std::uint32_t(static_cast<unsigned char>(data[i + 2]));
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= std::uint32_t(static_cast<unsigned char>(data[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

} // namespace jobpatch
