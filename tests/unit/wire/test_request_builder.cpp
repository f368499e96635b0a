#include <jobpatch/wire/request_builder.hpp>

#include <doctest/doctest.h>

#include <stdexcept>

using namespace jobpatch;

TEST_CASE("request_builder: job ids are one percent-encoded path segment") {
  CHECK(patch_target("", "job-0000001", op_kind::configs) ==
        "/v1/customer/jobs/job-0000001/configs");
  CHECK(patch_target("", "a/b?c#d%e f", op_kind::jobname) ==
        "/v1/customer/jobs/a%2Fb%3Fc%23d%25e%20f/jobname");
  CHECK(patch_target("", "../../admin", op_kind::params) ==
        "/v1/customer/jobs/..%2F..%2Fadmin/params");
  CHECK(patch_target("", "x\r\nHost: evil", op_kind::params) ==
        "/v1/customer/jobs/x%0D%0AHost%3A%20evil/params");
  CHECK(patch_target("", "j\xC3\xB6", op_kind::datasource) ==
        "/v1/customer/jobs/j%C3%B6/datasource");
  CHECK(patch_target("/api", "A-z_0.9~", op_kind::configs) ==
        "/api/v1/customer/jobs/A-z_0.9~/configs");
}

TEST_CASE("request_builder: PATCH bytes") {
  request_builder builder("api.example.com:8443", "", "jobpatch/test");
  std::string out;
  builder.append_patch(out, "/v1/customer/jobs/j/jobname", "tok", "\"My Job\"");
  CHECK(out ==
        "PATCH /v1/customer/jobs/j/jobname HTTP/1.1\r\nHost: api.example.com:8443\r\n"
        "Authorization: tok\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
        "User-Agent: jobpatch/test\r\nContent-Length: 8\r\n\r\n\"My Job\"");
}

TEST_CASE("request_builder: token request escapes the key as JSON") {
  request_builder builder("h", "/base", "ua");
  std::string out;
  builder.append_token_request(out, "k\"ey");
  CHECK(out.find("POST /base/v1/auth/access_token HTTP/1.1\r\n") == 0);
  CHECK(out.find("Content-Length: 18\r\n\r\n{\"apiKey\":\"k\\\"ey\"}") != std::string::npos);
}

TEST_CASE("request_builder: header values with CR/LF are refused") {
  request_builder builder("h", "", "ua");
  std::string out;
  CHECK_THROWS_AS(builder.append_patch(out, "/x", "tok\r\nX-Evil: 1", "{}"), std::invalid_argument);
  CHECK_THROWS_AS(request_builder("h\r\nX: y", "", "ua"), std::invalid_argument);
  CHECK(request_builder::is_safe_header_value("abc.DEF-123_~+/="));
  CHECK_FALSE(request_builder::is_safe_header_value("a\nb"));
}
