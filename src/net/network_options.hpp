#pragma once
// How the client reaches the API beyond its base URL: proxy, client certificate and extra
// headers. Shared by apply_options and bench_options; built by the CLI.

#include <jobpatch/wire/proxy_config.hpp>

#include <string>
#include <vector>

namespace jobpatch {

struct network_options {
  proxy_settings proxy;  // --proxy, --no-proxy and the *_proxy variables
  std::string cert_file; // --cert: client certificate chain (PEM); empty = none
  std::string key_file;  // --key: its private key (PEM); empty = in cert_file
  // From --key-password-file, for an encrypted key; never printed. Empty: an encrypted
  // key is refused rather than asked for on the terminal.
  std::string key_password;
  std::vector<std::string> headers; // -H, "Name: value", checked by the CLI
};

namespace net {
// What the connections will need, checked before a run starts: `base_url` parses (with the
// proxy that applies to it) and the TLS context loads `ca_file` and the client
// certificate. Throws std::runtime_error (std::invalid_argument for a bad proxy URL)
// naming the problem. Defined with the connection (http_connection.cpp), declared here so
// that the command line checks it without including Asio.
void check_connection_settings(const std::string& base_url, const std::string& ca_file, bool verify,
                               const network_options& network);
} // namespace net

} // namespace jobpatch
