// jobpatch-mock: a ByteNite-compatible Customer API server with fault injection, for
// tests, rehearsals and benchmarks. See mock_options.hpp for what each option does.

#include "mock/mock_server.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace jobpatch::mock;

// The capacity model's options as the command line gives them, before conversion.
struct capacity_inputs {
  unsigned service_ms = 10;
  std::vector<std::string> changes; // SECONDS:K
};

void add_capacity_options(CLI::App& app, capacity_options& capacity, capacity_inputs& in) {
  auto* k = app.add_option("--capacity", capacity.limit,
                           "K: serve the job API K requests at once (the capacity model)")
                ->check(CLI::Range(1u, max_capacity));
  app.add_option("--service-ms", in.service_ms,
                 "S: under --capacity, each request is in service this many ms")
      ->check(CLI::Range(0u, max_service_ms))
      ->needs(k)
      ->capture_default_str();
  app.add_option("--queue", capacity.queue,
                 "Q: under --capacity, up to Q requests wait (first come, first served); "
                 "beyond that: 503 with Retry-After: 1 at once, nothing applied")
      ->check(CLI::Range(std::size_t{0}, max_queue))
      ->needs(k)
      ->capture_default_str();
  app.add_option("--capacity-after", in.changes,
                 "SECONDS:K: from SECONDS (decimals allowed) after listening on, K at once "
                 "(repeatable): requests in service finish, a raise starts waiting ones")
      ->check(CLI::Validator(
          [](std::string& text) {
            std::string error;
            return parse_capacity_change(text, error) ? std::string{} : error;
          },
          "", "capacity change"))
      ->type_name("SECONDS:K")
      ->needs(k);
  app.footer(
      "Capacity model (--capacity K): the job API requests (any request under "
      "/v1/customer/jobs/: the PATCHes and GETs of jobs, wrong methods and ids too) are served "
      "K at once, each answered --service-ms after its service starts; up to --queue more "
      "wait in arrival order; a request arriving with the queue full is answered at once with "
      "503 and Retry-After: 1, and nothing is applied. The token exchange and /mock/stats are "
      "not in the model. Injected faults are drawn for served requests only, when their "
      "service ends. --latency-ms is added on top, after the service. GET /mock/stats shows "
      "the model under \"capacity\": K now, 503s, peak in service and queued.");
}

// Converts what add_capacity_options() read; throws CLI::ValidationError.
void read_capacity_options(capacity_options& capacity, const capacity_inputs& in) {
  capacity.service = std::chrono::milliseconds(in.service_ms);
  std::string error;
  for (const auto& text : in.changes)
    if (auto change = parse_capacity_change(text, error)) capacity.changes.push_back(*change);
  if (!capacity.enabled()) return;
  if (std::string problem = capacity_options_problem(capacity); !problem.empty())
    throw CLI::ValidationError(problem);
}

} // namespace

int main(int argc, char** argv) {
  mock_options o;
  CLI::App app{"jobpatch-mock: a ByteNite-compatible API server with fault injection"};
  unsigned retry_after = o.retry_after_seconds, latency_ms = 0, idle = 60;
  std::int64_t token_ttl = o.token_ttl.count();
  std::optional<std::uint64_t> seed;
  auto probability = CLI::Range(0.0, 1.0);
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port; 0 picks a free one")->capture_default_str();
  app.add_option("--port-file", o.port_file, "write the port here once listening");
  app.add_flag(
      "--plain", [&](std::int64_t) { o.tls = false; }, "plain HTTP instead of HTTPS");
  app.add_option("--cert-out", o.cert_out, "write the generated certificate (PEM) here");
  app.add_option("--client-ca", o.client_ca,
                 "require client certificates signed by a CA of this PEM file");
  app.add_option("--api-key", o.api_key, "the API key accepted by /v1/auth/access_token");
  app.add_option("--jobs", o.jobs, "pre-create job-0000001 ... job-N")->capture_default_str();
  app.add_option("--job-id", o.job_ids, "pre-create a job with this id (repeatable)");
  app.add_option("--fail-500", o.faults.fail_500, "probability of a 500 per PATCH")
      ->check(probability);
  app.add_option("--fail-503", o.faults.fail_503, "probability of a 503 per PATCH")
      ->check(probability);
  app.add_option("--retry-after", retry_after, "Retry-After seconds of an injected 503")
      ->capture_default_str();
  app.add_option("--fail-429", o.faults.fail_429, "probability of a 429 per PATCH")
      ->check(probability);
  app.add_option("--drop", o.faults.drop,
                 "probability of closing without an answer (applied or not, half each)")
      ->check(probability);
  app.add_option("--truncate", o.faults.truncate,
                 "probability of an applied PATCH answered with half a body, then closed")
      ->check(probability);
  app.add_flag("--fault-reads", o.faults.reads,
               "inject the faults above into GET /v1/customer/jobs/{id} too (a truncated "
               "or dropped read has nothing to apply)");
  app.add_option("--latency-ms", latency_ms,
                 "delay added to every API answer (after a --capacity service)");
  app.add_option("--token-ttl", token_ttl, "access token lifetime in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", seed, "fault PRNG seed (default: random)");
  app.add_option("--journal", o.journal, "NDJSON record per applied PATCH, in order");
  app.add_option("--threads", o.threads, "I/O threads")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--idle-timeout", idle, "close a connection idle (or stalled) this many seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  capacity_inputs capacity;
  add_capacity_options(app, o.capacity, capacity);
  try {
    app.parse(argc, argv);
    read_capacity_options(o.capacity, capacity);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  o.retry_after_seconds = retry_after;
  o.latency = std::chrono::milliseconds(latency_ms);
  o.token_ttl = std::chrono::seconds(token_ttl);
  o.idle_timeout = std::chrono::seconds(idle);
  o.seed = seed ? *seed : std::random_device{}();
  try {
    mock_server server(o);
    std::fprintf(stderr,
                 "jobpatch-mock: listening on %s://%s:%u (%llu jobs, %u thread%s, seed %llu)\n",
                 o.tls ? "https" : "http", o.host.c_str(), server.port(),
                 static_cast<unsigned long long>(o.jobs) + o.job_ids.size(), o.threads,
                 o.threads == 1 ? "" : "s", static_cast<unsigned long long>(o.seed));
    server.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch-mock: %s\n", e.what());
    return 2;
  }
}
