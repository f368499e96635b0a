#pragma once
// Which HTTP proxy, if any, carries the requests to one server, and the CONNECT request
// that opens a tunnel through it. Pure: the environment's variables are passed in, no
// sockets. The rules follow curl's (README, "Proxies"), with the differences noted there.

#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

// A parsed proxy URL. Only plain-HTTP proxies (http://) are supported: requests reach the
// origin through a CONNECT tunnel, TLS runs end to end inside it.
struct proxy_endpoint {
  std::string host; // without brackets for an IPv6 literal
  std::string port; // 1080 when the URL names none (curl's default)
  // "Basic <base64(user:password)>" from the URL's percent-decoded userinfo, or empty.
  // A secret: never printed.
  std::string authorization;
  std::string password; // percent-decoded, for the secret scrubber; never printed

  // "http://host:port", the only way a proxy is shown: never the credentials.
  std::string display() const;
};

// `url` (a --proxy value) fit to print: its credentials, if any, replaced by
// "[redacted]" ("http://[redacted]@proxy:3128"); "[redacted]" whole if it does not parse.
std::string redacted_proxy_url(std::string_view url);

// Parses --proxy or a *_proxy variable: "[http://][user[:password]@]host[:port][/]".
// A URL without a scheme is http:// (like curl). Throws std::invalid_argument naming
// `origin` (e.g. "--proxy", "HTTPS_PROXY") without ever quoting the credentials.
proxy_endpoint parse_proxy_url(std::string_view url, std::string_view origin);

// True when `no_proxy` (NO_PROXY's value) says `host`:`port` is reached directly. Entries
// are separated by commas or spaces; "*" matches every host; a name matches itself and
// its subdomains ("example.com" and ".example.com" both match "api.example.com" and
// "example.com"); an IP literal (IPv6 with or without brackets) matches the same address;
// a CIDR range ("10.0.0.0/8", "fd00::/8") matches the addresses in it; an entry with a
// port ("host:8443", "[::1]:8443") matches only that port. Case-insensitive; a trailing
// dot on `host` is ignored. `host` is given without brackets.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::string_view port);

// What decides the proxy: the command line and the environment's variables (the CLI
// reads them; empty = unset).
struct proxy_settings {
  std::string proxy_url;     // --proxy; overrides the *_proxy variables
  std::string https_proxy;   // https_proxy, else HTTPS_PROXY
  std::string http_proxy;    // http_proxy, else HTTP_PROXY
  std::string no_proxy_list; // --no-proxy LIST, else no_proxy, else NO_PROXY ("*": never)
};

// The proxy for a server at `host`:`port` (`tls`: an https:// base URL), or nothing for a
// direct connection. NO_PROXY applies to --proxy too, as in curl. Throws
// std::invalid_argument when the chosen proxy URL is not usable.
std::optional<proxy_endpoint> select_proxy(const proxy_settings& settings, bool tls,
                                           std::string_view host, std::string_view port);

// "host:port" as a CONNECT target and its Host header: an IPv6 literal in brackets.
std::string authority_of(std::string_view host, std::string_view port);

// The CONNECT request that asks `proxy` for a tunnel to `host`:`port`.
std::string connect_request(const proxy_endpoint& proxy, std::string_view host,
                            std::string_view port, std::string_view user_agent);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view data);

} // namespace jobpatch
