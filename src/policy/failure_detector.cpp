#include <jobpatch/policy/failure_detector.hpp>

namespace jobpatch {

namespace {
// What the user can do about each hopeless class; the abort message ends with it.
std::string_view hint(error_class c) noexcept {
  switch (c) {
  case error_class::connect_refused:
  case error_class::connect_failed:
    return " (is the --base-url right and the server up?)";
  case error_class::resolve:
    return " (is the host name in --base-url right?)";
  case error_class::tls_verify:
    return " (check --cacert and the host name in --base-url)";
  case error_class::tls_handshake:
    return " (does the server speak HTTPS on that port?)";
  case error_class::auth_failed:
    return " (check the API key)";
  default:
    return "";
  }
}
} // namespace

bool is_fatal_candidate(error_class c) noexcept {
  switch (c) {
  case error_class::connect_refused:
  case error_class::connect_failed:
  case error_class::resolve:
  case error_class::tls_handshake:
  case error_class::tls_verify:
  case error_class::auth_failed:
    return true;
  default:
    return false;
  }
}

failure_detector::failure_detector(const failure_detector_config& config) noexcept
    : config_(config) {
  if (config_.threshold == 0) config_.threshold = 1;
}

bool failure_detector::record(attempt_outcome outcome,
                              std::chrono::steady_clock::time_point now) noexcept {
  const bool answered_not_401 = outcome.cls == error_class::http_status && outcome.status != 401;
  if (outcome.ok() || answered_not_401) {
    class_ = error_class::none;
    streak_ = others_ = 0;
  } else if (is_fatal_candidate(outcome.cls)) {
    bool stale = streak_ > 0 && now - last_failure_ > config_.window;
    if (outcome.cls != class_ || stale) {
      class_ = outcome.cls;
      streak_ = others_ = 0;
    }
    ++streak_;
    last_failure_ = now;
  } else if (streak_ > 0) {
    ++others_; // neutral: a 401 before its refresh, a timeout, a 503...
  }
  return tripped();
}

std::string failure_detector::message() const {
  if (!tripped()) return {};
  std::string m = "aborting: ";
  if (others_ == 0) {
    m += "the last " + std::to_string(streak_) + " attempts all failed with: ";
  } else {
    m += std::to_string(streak_) + " attempts since the last success failed with: ";
  }
  m += to_string(class_);
  if (others_ > 0) m += ", " + std::to_string(others_) + " more with other errors";
  m += hint(class_);
  return m;
}

} // namespace jobpatch
