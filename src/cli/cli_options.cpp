#include "cli/cli_options.hpp"

#include "cli/cli_error.hpp"
#include "net/http_connection.hpp"

#include <jobpatch/text/edit_distance.hpp>

#include <jobpatch/wire/request_builder.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <stdexcept>

namespace jobpatch::cli {

void add_connection_options(CLI::App& command, connection_options& o) {
  command.add_option("--base-url", o.base_url, "API base URL (http:// or https://)")
      ->capture_default_str();
  command.add_option("--api-key-file", o.api_key_file,
                     "file holding the API key (default: the BYTENITE_API_KEY variable)");
  command.add_option("--cacert", o.ca_file, "extra trusted CA certificates (PEM)");
  command.add_flag("--insecure", o.insecure, "do not verify TLS certificates (tests only)");
  command.add_option("--connections", o.connections, "persistent connections")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--timeout", o.timeout_seconds, "seconds per attempt")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command.add_option("--max-attempts", o.max_attempts, "attempts per update")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  command.add_option("--proxy", o.proxy,
                     "HTTP proxy for CONNECT tunnels, http://[user:password@]host[:port] "
                     "(default: HTTPS_PROXY, or HTTP_PROXY for an http:// base URL)");
  command.add_option("--no-proxy", o.no_proxy,
                     "hosts reached directly, NO_PROXY's syntax (default: no_proxy/NO_PROXY); "
                     "'*' connects directly whatever --proxy or the *_proxy variables say");
  command
      .add_option("-H,--header", o.headers,
                  "'Name: value' added to every API request, the token exchange included "
                  "(repeatable; User-Agent replaces jobpatch's)")
      ->allow_extra_args(false);
  command.add_option("--cert", o.cert_file,
                     "client certificate (PEM, with its chain) for servers that require one");
  command.add_option("--key", o.key_file, "private key of --cert (PEM; default: in --cert)");
  command.add_option("--key-password-file", o.key_password_file,
                     "file holding the passphrase of an encrypted --key");
}

namespace {
// The first of `names` set and not empty in the environment.
std::string environment_value(std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (const char* value = std::getenv(name); value && *value) return value;
  return {};
}
} // namespace

// The first line of `path`, a passphrase (never printed).
static std::string read_secret_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) refuse(std::string(flag) + " " + path + ": cannot be read");
  std::string text;
  std::getline(in, text);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty())
    refuse(std::string(flag) + " " + path +
           ": is empty (or its first "
           "line is); it must hold the passphrase");
  return text;
}

network_options make_network_options(const connection_options& c) {
  network_options n;
  n.proxy.proxy_url = c.proxy;
  n.proxy.https_proxy = environment_value({"https_proxy", "HTTPS_PROXY"});
  n.proxy.http_proxy = environment_value({"http_proxy", "HTTP_PROXY"});
  n.proxy.no_proxy_list = c.no_proxy ? *c.no_proxy : environment_value({"no_proxy", "NO_PROXY"});
  // A --proxy that cannot be used is a usage error even when NO_PROXY would skip it.
  if (!c.proxy.empty()) {
    try {
      parse_proxy_url(c.proxy, "--proxy");
    } catch (const std::invalid_argument& e) {
      refuse(e.what());
    }
  }
  for (const auto& header : c.headers) {
    std::string normalized;
    if (std::string why = check_extra_header(header, normalized); !why.empty()) refuse(why);
    n.headers.push_back(std::move(normalized));
  }
  n.cert_file = c.cert_file;
  n.key_file = c.key_file;
  if (!c.key_file.empty() && c.cert_file.empty())
    refuse("--key needs --cert (the certificate it belongs to)");
  if (!c.key_password_file.empty()) {
    if (c.cert_file.empty()) refuse("--key-password-file needs --cert and an encrypted --key");
    n.key_password = read_secret_file(c.key_password_file, "--key-password-file");
  }
  return n;
}

void check_connection_setup(const std::string& base_url, const std::string& ca_file, bool insecure,
                            const network_options& network) {
  try {
    (void)net::parse_server_address(base_url, !insecure, network.proxy);
    (void)net::make_client_tls_context(ca_file, !insecure, network, false);
  } catch (const std::exception& e) {
    refuse(e.what());
  }
}

std::chrono::milliseconds seconds_option(double seconds, const char* flag) {
  // A year is more than any run needs and far from the clock's overflow (~292 years in
  // nanoseconds).
  constexpr double most = 366.0 * 24 * 3600;
  if (!std::isfinite(seconds) || seconds < 0 || seconds > most)
    refuse(std::string(flag) + " must be between 0 and " +
           std::to_string(static_cast<long long>(most)) + " seconds (a year), got " +
           CLI::detail::to_string(seconds));
  return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

namespace {

// The long names of `command`'s options, with their dashes.
std::vector<std::string> option_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options())
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
  return names;
}

} // namespace

std::string closest_name(const std::string& typed, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& candidate : candidates) {
    std::size_t d = edit_distance(typed, candidate);
    // "--conn" for "--connections": an abbreviation is a near miss too.
    if (d > 2 && typed.size() >= 4 && candidate.starts_with(typed)) d = 2;
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string parse_error_hint(const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string> subcommands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    subcommands.push_back(sub->get_name());
  const CLI::App* command = &app;
  int i = 1;
  // The subcommand is the first word that is not an option of the app itself.
  for (; i < argc; ++i) {
    std::string word = argv[i];
    if (word.starts_with("-")) continue;
    if (std::find(subcommands.begin(), subcommands.end(), word) == subcommands.end()) {
      std::string hint = closest_name(word, subcommands);
      return "unknown subcommand " + word +
             (hint.empty() ? " (expected validate, apply or bench)"
                           : " (did you mean " + hint + "?)");
    }
    command = app.get_subcommand(word);
    ++i;
    break;
  }
  std::vector<std::string> names = option_names(*command);
  for (; i < argc; ++i) {
    std::string word = argv[i];
    if (!word.starts_with("--")) continue;
    if (word == "--") break;
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    std::string where = command == &app ? "" : " for " + command->get_name();
    std::string hint = closest_name(word, names);
    return "unknown option " + word + where +
           (hint.empty() ? " (see --help)" : " (did you mean " + hint + "?)");
  }
  return {};
}

} // namespace jobpatch::cli
