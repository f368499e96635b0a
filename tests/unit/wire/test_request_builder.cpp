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

TEST_CASE("request_builder: GET of a job, without body headers") {
  std::string target;
  assign_job_target(target, "/api", "a/b c");
  CHECK(target == "/api/v1/customer/jobs/a%2Fb%20c");
  request_builder builder("h", "/api", "jobpatch/test", {"X-Trace: 1"});
  std::string out;
  builder.append_get(out, target, "tok");
  CHECK(out == "GET /api/v1/customer/jobs/a%2Fb%20c HTTP/1.1\r\nHost: h\r\nAuthorization: "
               "tok\r\nAccept: application/json\r\nUser-Agent: jobpatch/test\r\nX-Trace: "
               "1\r\n\r\n");
  out.clear();
  CHECK_THROWS_AS(builder.append_get(out, target, "t\r\nX: 1"), std::invalid_argument);
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
  // DEL is a control character too; a tab is allowed in a value.
  CHECK_FALSE(request_builder::is_safe_header_value("a\x7f"
                                                    "b"));
  CHECK(request_builder::is_safe_header_value("a\tb"));
  std::string n;
  CHECK_FALSE(check_extra_header("X-Key: a\x7f"
                                 "b",
                                 n)
                  .empty());
}

TEST_CASE("request_builder: extra headers on every request, User-Agent replaced") {
  request_builder builder("h", "", "jobpatch/test", {"X-Trace: 1", "User-Agent: mine/2"});
  std::string out;
  builder.append_patch(out, "/p", "tok", "{}");
  CHECK(out == "PATCH /p HTTP/1.1\r\nHost: h\r\nAuthorization: tok\r\nContent-Type: "
               "application/json\r\nAccept: application/json\r\nX-Trace: 1\r\nUser-Agent: "
               "mine/2\r\nContent-Length: 2\r\n\r\n{}");
  out.clear();
  builder.append_token_request(out, "k");
  CHECK(out.find("\r\nX-Trace: 1\r\n") != std::string::npos);
  CHECK(out.find("jobpatch/test") == std::string::npos);
  CHECK_THROWS_AS(request_builder("h", "", "ua", {"Host: x"}), std::invalid_argument);
}

TEST_CASE("request_builder: -H checks") {
  std::string n;
  CHECK(check_extra_header("X-Key:  v a l \t", n).empty());
  CHECK(n == "X-Key: v a l");
  CHECK(check_extra_header("X-Empty:", n).empty());
  CHECK(n == "X-Empty: ");
  CHECK(check_extra_header("x!#$%&'*+-.^_`|~9: 1", n).empty());
  for (const char* bad :
       {"NoColon", ": v", "X Y: v", "X(: v", "X\xC3\xA9: v", "X: a\rb", "X: a\nb", "X\r\nY: v"}) {
    CAPTURE(bad);
    CHECK_FALSE(check_extra_header(bad, n).empty());
  }
  CHECK_FALSE(check_extra_header(std::string("X: a\0b", 6), n).empty());
  for (const char* owned :
       {"authorization: x", "HOST: x", "Content-Length: 1", "transfer-encoding: chunked",
        "Connection: close", "Proxy-Authorization: x", "TE: trailers", "Upgrade: h2c"})
    CHECK_FALSE(check_extra_header(owned, n).empty());
  CHECK(check_extra_header("Authorization: s3cret", n).find("access token") != std::string::npos);
  CHECK(check_extra_header("X: s3cret\n", n).find("s3cret") == std::string::npos);
}
