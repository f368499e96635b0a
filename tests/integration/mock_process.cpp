#include "mock_process.hpp"

#include <boost/json/parse.hpp>

#include <cctype>
#include <csignal>
#include <stdexcept>

namespace jobpatch::test {

namespace json = boost::json;

mock_process::mock_process(std::vector<std::string> args, unsigned jobs, bool tls) {
  if (tls) cert_ = dir_.path("cert.pem");
  journal_ = dir_.path("journal.ndjson");
  std::vector<std::string> argv = {JOBPATCH_MOCK_BIN,    "--port",    "0",           "--port-file",
                                   dir_.path("port"),    "--api-key", mock_test_key, "--jobs",
                                   std::to_string(jobs), "--journal", journal_};
  if (tls)
    argv.insert(argv.end(), {"--cert-out", cert_});
  else
    argv.push_back("--plain");
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<child_process>(argv, std::map<std::string, std::string>{}, "",
                                             dir_.path("mock.err"));
  if (!wait_for_file(dir_.path("port"), std::chrono::seconds(10)))
    throw std::runtime_error("jobpatch-mock did not start: " + read_file(dir_.path("mock.err")));
  port_ = static_cast<unsigned short>(std::stoul(read_file(dir_.path("port"))));
}

mock_process::~mock_process() { stop(); }

int mock_process::stop(int signal_number) {
  if (!process_) return -1;
  process_->signal(signal_number);
  int code = process_->wait(std::chrono::seconds(10));
  process_.reset();
  return code;
}

std::unique_ptr<tls_test_client> mock_process::client() const {
  return std::make_unique<tls_test_client>(port_, cert_);
}

std::string mock_process::token() const {
  auto c = client();
  auto answer =
      c->request("POST", "/v1/auth/access_token", R"({"apiKey":")" + mock_test_key + "\"}");
  if (answer.status != 200)
    throw std::runtime_error("token exchange failed: " + answer.error + answer.body);
  return std::string(json::parse(answer.body).at("token").as_string());
}

json::value mock_process::job(const std::string& id, const std::string& token) const {
  auto c = client();
  auto answer = c->request("GET", "/v1/customer/jobs/" + encode_segment(id), {}, token);
  if (answer.status != 200) return nullptr;
  return json::parse(answer.body).at("job");
}

json::value mock_process::stats() const {
  auto c = client();
  auto answer = c->request("GET", "/mock/stats");
  if (answer.status != 200) throw std::runtime_error("GET /mock/stats failed: " + answer.error);
  return json::parse(answer.body);
}

std::vector<json::value> mock_process::journal_records() const {
  std::vector<json::value> out;
  for (const auto& line : read_lines(journal_)) out.push_back(json::parse(line));
  return out;
}

std::string encode_segment(const std::string& id) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace jobpatch::test
