#pragma once
// The command-line pieces apply and bench share: one block of connection options declared
// once, the seconds-to-duration conversion with its range check, and the hints a parse
// error prints ("did you mean --connections?").

#include "cli/cli_error.hpp"
#include "net/apply_options.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace jobpatch::cli {

// The connection options of `apply` and `bench`, as typed; copied into each subcommand's
// options by copy_connection_options() after parsing.
struct connection_options {
  std::string base_url = "https://api.bytenite.com";
  std::string api_key_file; // empty = BYTENITE_API_KEY
  std::string ca_file;
  bool insecure = false;
  std::string connections = "16"; // N, or for apply auto[:MAX] (parse_connections)
  unsigned max_attempts = 5;
  double timeout_seconds = 30;
  std::string proxy;                                  // --proxy URL; empty = the *_proxy variables
  std::optional<std::string> no_proxy;                // --no-proxy LIST (overrides NO_PROXY)
  std::vector<std::string> headers;                   // -H/--header, as typed
  std::string cert_file, key_file, key_password_file; // --cert, --key, --key-password-file
};

// The network options of `c`, with the proxy variables of the environment
// (https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY, no_proxy/NO_PROXY; lower case first,
// as curl), the -H headers checked and the passphrase of --key-password-file read.
// Refuses (cli_error, exit 2) a --proxy that cannot be used, a header that is refused, or
// a passphrase file that cannot be read.
network_options make_network_options(const connection_options& c);

// Declares --base-url, --api-key-file, --cacert, --insecure, --connections, --timeout,
// --max-attempts, --proxy, --no-proxy, -H/--header, --cert, --key and --key-password-file on
// `command`, bound to `o` (whose values are
// the defaults help shows).
void add_connection_options(CLI::App& command, connection_options& o);

// --connections as typed: N (1 to 4096), or with `allow_auto` (apply) "auto" or "auto:MAX"
// (the limit adapts from 1 to MAX, default 64). Refuses (cli_error, exit 2) anything else.
struct connections_setting {
  unsigned count = 16; // the connections, or auto's MAX
  bool automatic = false;
};
connections_setting parse_connections(const std::string& text, bool allow_auto);

// Copies the connection fields into an apply_options or bench_options. Refuses
// (cli_error, exit 2) a --timeout out of range.
template <class Options>
void copy_connection_options(const connection_options& c, Options& out);

// Refuses (cli_error, exit 2) a --base-url, --cacert, --cert or --key (and its passphrase)
// the engine could not set up with, by building first what it builds first: the server
// address and the TLS context. Called before anything is sent, it leaves the engine no
// setup failure to throw but an unresolvable host (exit 3): whatever else it throws
// comes from the run, exit 3, never 2.
void check_connection_setup(const std::string& base_url, const std::string& ca_file, bool insecure,
                            const network_options& network);

// `seconds` of option `flag` as milliseconds. Refuses (cli_error, exit 2, naming the flag)
// a value negative, not finite or beyond a year (1e17 s would overflow the clock).
std::chrono::milliseconds seconds_option(double seconds, const char* flag);

// The name among `candidates` closest to `typed` (a typo: at most 2 edits, or a prefix), or
// empty.
std::string closest_name(const std::string& typed, const std::vector<std::string>& candidates);

// After CLI11 refused `argv`: one line naming what was not understood and the closest
// subcommand or flag, e.g. "jobpatch: unknown option --conections for apply (did you mean
// --connections?)", or CLI11's message for the error being handled (called in the catch
// block of app.parse) in our words: `--rate: "abc" is not a number`, "pass a manifest or
// --ids, not both", "--connections: 0 must be from 1 to 4096". Empty when there is nothing
// better to say than CLI11's own message.
std::string parse_error_hint(const CLI::App& app, int argc, const char* const* argv);

template <class Options>
void copy_connection_options(const connection_options& c, Options& out) {
  out.base_url = c.base_url;
  out.ca_file = c.ca_file;
  out.insecure = c.insecure;
  constexpr bool adaptive = requires { out.auto_connections; };
  connections_setting connections = parse_connections(c.connections, adaptive);
  out.connections = connections.count;
  if constexpr (adaptive) out.auto_connections = connections.automatic;
  out.max_attempts = c.max_attempts;
  out.network = make_network_options(c);
  out.attempt_timeout = seconds_option(c.timeout_seconds, "--timeout");
  if (out.attempt_timeout.count() <= 0) refuse("--timeout must be more than 0 seconds");
}

} // namespace jobpatch::cli
