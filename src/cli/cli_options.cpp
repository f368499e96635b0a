#include "cli/cli_options.hpp"

#include "cli/cli_error.hpp"
#include "net/network_options.hpp"

#include <jobpatch/text/edit_distance.hpp>

#include <jobpatch/wire/request_builder.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

namespace jobpatch::cli {

void add_connection_options(CLI::App& command, connection_options& o) {
  command.add_option("--base-url", o.base_url, "API base URL (http:// or https://)")
      ->capture_default_str();
  command.add_option("--api-key-file", o.api_key_file,
                     "file holding the API key (default: the BYTENITE_API_KEY variable)");
  command.add_option("--cacert", o.ca_file, "extra trusted CA certificates (PEM)");
  command.add_flag("--insecure", o.insecure, "do not verify TLS certificates (tests only)");
  command.add_option("--connections", o.connections, "persistent connections")
      ->type_name("N")
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
    net::check_connection_settings(base_url, ca_file, !insecure, network);
  } catch (const std::exception& e) {
    refuse(e.what());
  }
}

connections_setting parse_connections(const std::string& text, bool allow_auto) {
  constexpr unsigned most = 4096;
  std::string_view digits = text;
  connections_setting out;
  if (allow_auto && (text == "auto" || text.starts_with("auto:"))) {
    out.automatic = true;
    out.count = default_auto_max_connections;
    if (text == "auto") return out;
    digits.remove_prefix(5);
  }
  std::string what = out.automatic ? "--connections auto:MAX" : "--connections";
  unsigned value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (error != std::errc() && error != std::errc::result_out_of_range))
    refuse(what + ": \"" + std::string(digits) + "\" is not a whole number from 1 to " +
           std::to_string(most) + (allow_auto && !out.automatic ? ", or auto[:MAX]" : ""));
  if (error == std::errc::result_out_of_range || value < 1 || value > most)
    refuse(what + ": " + std::string(digits) + " must be from 1 to " + std::to_string(most));
  out.count = value;
  return out;
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

namespace {

// The value typed last for the option named `name` (`--name value` or `--name=value`)
// among `words`, or nothing.
std::optional<std::string> typed_value(const std::vector<std::string>& words,
                                       const std::string& name) {
  std::optional<std::string> value;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--") break;
    if (words[i] == name && i + 1 < words.size())
      value = words[i + 1];
    else if (words[i].starts_with(name + "="))
      value = words[i].substr(name.size() + 1);
  }
  return value;
}

// `text` whole as a number (a whole one when `integer`): its value (infinite when it is
// too large for one), or nothing.
std::optional<double> number_in(const std::string& text, bool integer) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = integer ? static_cast<double>(std::strtoll(text.c_str(), &end, 10))
                     : std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || std::isnan(v)) return std::nullopt;
  if (errno == ERANGE && std::abs(v) > 1) return std::numeric_limits<double>::infinity();
  return v;
}

// What is wrong with `value` for `option` (shown as `name`), in our words, from the type
// and checks CLI11 knows it by ("UINT:INT in [1 - 4096]", "FLOAT:POSITIVE",
// "TEXT:{auto,always,never}"); empty when they say nothing we can name.
std::string value_problem(const CLI::Option& option, const std::string& name,
                          const std::string& value) {
  std::string type = option.get_type_name();
  auto colon = type.find(':');
  std::string base = type.substr(0, colon);
  std::string rule = colon == std::string::npos ? "" : type.substr(colon + 1);
  std::string quoted = "\"" + value + "\"";
  if (rule.starts_with("{") && rule.ends_with("}")) {
    std::string names = rule.substr(1, rule.size() - 2);
    for (std::size_t at = names.find(','); at != std::string::npos; at = names.find(',', at + 2))
      names.replace(at, 1, ", ");
    return name + ": " + quoted + " must be one of " + names;
  }
  bool integer = base == "INT" || base == "UINT";
  if (!integer && base != "FLOAT" && base != "NUMBER") return {};
  std::string range; // "from 1 to 4096"
  auto open = rule.find(" in [");
  auto dash = rule.find(" - ", open);
  if (open != std::string::npos && dash != std::string::npos && rule.ends_with("]"))
    range = "from " + rule.substr(open + 5, dash - open - 5) + " to " +
            rule.substr(dash + 3, rule.size() - dash - 4);
  auto number = number_in(value, integer);
  if (!number || (base == "UINT" && *number < 0))
    return name + ": " + quoted + " is not " + (integer ? "a whole number" : "a number") +
           (!range.empty()       ? " " + range
            : base == "UINT"     ? " of 0 or more"
            : rule == "POSITIVE" ? " above 0"
                                 : "");
  if (std::isinf(*number)) return name + ": " + value + " is too large";
  if (!range.empty()) return name + ": " + value + " must be " + range;
  if (rule == "POSITIVE") return name + ": " + value + " must be more than 0";
  if (rule == "NONNEGATIVE") return name + ": " + value + " must be 0 or more";
  return {};
}

// An option or the manifest positional, as a sentence names it.
std::string named(const std::string& name) { return name == "manifest" ? "a manifest" : name; }

// What is wrong with the value typed for the option named `name`, in our words; empty
// when the option or its value is not found.
std::string refused_value(const CLI::App& command, const std::vector<std::string>& words,
                          const std::string& name) {
  const CLI::Option* option = command.get_option_no_throw(name);
  auto value = typed_value(words, name);
  return option && value ? value_problem(*option, name, *value) : std::string();
}

// "--rate: 1 required FLOAT missing": what the option needs.
std::string missing_value(const CLI::App& command, const std::string& text) {
  std::string name = text.substr(0, text.find(": "));
  const CLI::Option* option = command.get_option_no_throw(name);
  if (!option || !text.ends_with(" missing")) return {};
  std::string type = option->get_type_name();
  std::string what = type.starts_with("FLOAT")                             ? "a number"
                     : type.starts_with("INT") || type.starts_with("UINT") ? "a whole number"
                                                                           : "a value";
  return name + " needs " + what;
}

// "A requires B" or "A excludes B" (`verb`): A and B, or nothing.
std::optional<std::pair<std::string, std::string>> two_names(const std::string& text,
                                                             const std::string& verb) {
  auto at = text.find(verb);
  if (at == std::string::npos) return std::nullopt;
  return std::pair(text.substr(0, at), text.substr(at + verb.size()));
}

// "--op requires --ids": what goes with what.
std::string requires_words(const std::string& text) {
  auto names = two_names(text, " requires ");
  if (!names) return {};
  auto& [name, other] = *names;
  if ((name == "--op" || name == "--body") && other == "--ids")
    return name + " goes with --ids FILE (a list of job ids): a manifest's lines carry their own " +
           name.substr(2);
  return name + " needs " + other;
}

// "manifest excludes --ids": one or the other.
std::string excludes_words(const std::string& text) {
  auto names = two_names(text, " excludes ");
  if (!names) return {};
  auto& [name, other] = *names;
  if (other == "manifest") std::swap(name, other);
  return "pass " + named(name) + " or " + named(other) + ", not both";
}

// "The following arguments were not expected: c b": each one quoted, in the order typed
// (CLI11 lists them the other way round), and what the command takes.
std::string extras_words(const CLI::App& command, const std::vector<std::string>& words,
                         const std::string& text) {
  auto colon = text.find(": ");
  if (colon == std::string::npos) return {};
  std::vector<std::string> extras = CLI::detail::split(text.substr(colon + 2), ' ');
  std::string listed;
  for (const auto& word : words) {
    if (std::find(extras.begin(), extras.end(), word) == extras.end()) continue;
    listed += listed.empty() ? "\"" : " \"";
    listed += word;
    listed += '"';
  }
  if (listed.empty()) return {};
  std::string out = extras.size() > 1 ? "unexpected arguments " : "unexpected argument ";
  out += listed;
  if (command.get_option_no_throw("manifest"))
    return out + " (" + command.get_name() + " takes one manifest, or --ids)";
  return out + " (see jobpatch " + command.get_name() + " --help)";
}

// CLI11's message for the parse error being handled (the one thrown by app.parse), in our
// voice; empty when it is not one we word better, or when no error is being handled.
// `words` are the arguments after the subcommand.
std::string our_words(const CLI::App& command, const std::vector<std::string>& words) {
  std::exception_ptr handled = std::current_exception();
  if (!handled) return {};
  try {
    std::rethrow_exception(handled);
  } catch (const CLI::ConversionError& e) { // "Could not convert: --rate = abc"
    std::string text = e.what();
    constexpr std::string_view prefix = "Could not convert: ";
    auto equals = text.find(" = ");
    if (!text.starts_with(prefix) || equals == std::string::npos) return {};
    return refused_value(command, words, text.substr(prefix.size(), equals - prefix.size()));
  } catch (const CLI::ValidationError& e) { // "--connections: Value 0 not in range 1 to 4096"
    std::string text = e.what();
    return refused_value(command, words, text.substr(0, text.find(": ")));
  } catch (const CLI::ArgumentMismatch& e) {
    return missing_value(command, e.what());
  } catch (const CLI::RequiresError& e) {
    return requires_words(e.what());
  } catch (const CLI::ExcludesError& e) {
    return excludes_words(e.what());
  } catch (const CLI::ExtrasError& e) {
    return extras_words(command, words, e.what());
  } catch (...) { // NOLINT(bugprone-empty-catch): CLI11's own words are kept
  }
  return {};
}

} // namespace

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
      std::string all;
      for (const auto& name : subcommands) all += (all.empty() ? "" : ", ") + name;
      return "unknown subcommand " + word +
             (hint.empty() ? " (expected " + all + ")" : " (did you mean " + hint + "?)");
    }
    command = app.get_subcommand(word);
    ++i;
    break;
  }
  std::vector<std::string> names = option_names(*command);
  std::vector<std::string> words(argv + i, argv + argc);
  for (std::string word : words) {
    if (!word.starts_with("--")) continue;
    if (word == "--") break;
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    std::string where = command == &app ? "" : " for " + command->get_name();
    std::string hint = closest_name(word, names);
    std::string out = "unknown option " + word;
    out += where;
    out += hint.empty() ? " (see --help)" : " (did you mean " + hint + "?)";
    return out;
  }
  return our_words(*command, words);
}

} // namespace jobpatch::cli
