#pragma once
// Everything `jobpatch bench` is told, as one plain struct built by the CLI.

#include <jobpatch/policy/retry_policy.hpp>
#include <jobpatch/report/load_schedule.hpp>

#include "net/network_options.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace jobpatch {

struct bench_options {
  std::string manifest; // path or "-"; its valid lines are sent in a cycle
  std::string base_url = "https://api.bytenite.com";
  std::string api_key;     // from BYTENITE_API_KEY or --api-key-file; never printed
  std::string ca_file;     // extra trust anchors (PEM); empty = system store
  bool insecure = false;   // skip certificate verification (tests only)
  network_options network; // proxy, client certificate, extra headers

  rate_spec rate; // requests/s, constant or a ramp
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  unsigned connections = 16;
  unsigned max_attempts = default_max_attempts;
  std::chrono::milliseconds attempt_timeout{30'000};
  // The manifest is held in memory: at most this many lines are used.
  std::size_t max_lines = 100'000;
  std::size_t max_line_bytes = 0; // 0 = default

  std::string report;       // HTML report; empty = none
  std::string summary_json; // empty = none
};

} // namespace jobpatch
