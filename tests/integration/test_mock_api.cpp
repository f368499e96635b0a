// jobpatch-mock's API over real TLS: token exchange, the four PATCHes against the store,
// GET, and every error answer.

#include "mock_process.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

std::string patch_target(const std::string& id, const std::string& op) {
  return "/v1/customer/jobs/" + encode_segment(id) + "/" + op;
}

// Checks an error answer: the status and a google.rpc.Status body with `code`.
void check_status_body(const http_answer& answer, int status, int code) {
  CHECK(answer.ok());
  CHECK(answer.status == status);
  auto body = json::parse(answer.body).as_object();
  CHECK(body.at("code").as_int64() == code);
  CHECK(!body.at("message").as_string().empty());
  CHECK(body.at("details").as_array().empty());
}

std::set<std::string> keys_of(const json::object& o) {
  std::set<std::string> out;
  for (const auto& [k, v] : o) out.insert(std::string(k));
  return out;
}

} // namespace

TEST_CASE("access token: the right key gets a token, a wrong key 401, a bad body 400") {
  mock_process mock;
  auto c = mock.client();
  auto good = c->request("POST", "/v1/auth/access_token", R"({"apiKey":")" + mock_test_key + "\"}");
  REQUIRE(good.status == 200);
  auto doc = json::parse(good.body).as_object();
  CHECK(doc.at("token").as_string().size() >= 16);
  CHECK(doc.at("expiresIn").as_string() == "3600"); // int64 as a string, as ByteNite does
  CHECK(good.body.find(mock_test_key) == std::string::npos);

  check_status_body(c->request("POST", "/v1/auth/access_token", R"({"apiKey":"nope"})"), 401, 16);
  check_status_body(c->request("POST", "/v1/auth/access_token", R"({"key":"x"})"), 400, 3);
  check_status_body(c->request("POST", "/v1/auth/access_token", "not json"), 400, 3);
  check_status_body(c->request("GET", "/v1/auth/access_token"), 405, 12);
  // All of it on one kept-alive connection.
  CHECK(c->requests_on_connection() == 5);
  CHECK(mock.stats().at("connections").at("accepted").to_number<std::uint64_t>() <= 3);
}

TEST_CASE("access token: an expired token gets 401, a fresh one works") {
  mock_process mock({"--token-ttl", "1"});
  auto c = mock.client();
  auto answer =
      c->request("POST", "/v1/auth/access_token", R"({"apiKey":")" + mock_test_key + "\"}");
  REQUIRE(answer.status == 200);
  CHECK(json::parse(answer.body).at("expiresIn").as_string() == "1");
  std::string token(json::parse(answer.body).at("token").as_string());
  CHECK(c->request("PATCH", patch_target("job-0000001", "jobname"), R"("a")", token).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto expired = c->request("PATCH", patch_target("job-0000001", "jobname"), R"("b")", token);
  check_status_body(expired, 401, 16);
  CHECK(json::parse(expired.body).at("message").as_string().find("expired") != json::string::npos);
  CHECK(
      c->request("PATCH", patch_target("job-0000001", "jobname"), R"("c")", mock.token()).status ==
      200);
  CHECK(mock.job("job-0000001", mock.token()).at("name") == "c");
}

TEST_CASE("each PATCH changes exactly what it sends, and the 200 is the stored document") {
  mock_process mock;
  std::string token = mock.token();
  auto c = mock.client();
  const std::string id = "job-0000003";
  json::value before = mock.job(id, token);
  REQUIRE(before.is_object());

  // The document carries every field of the API reference's example.
  auto answer = c->request("PATCH", patch_target(id, "configs"), R"({"taskTimeout":600})", token);
  REQUIRE(answer.status == 200);
  auto doc = json::parse(answer.body).as_object();
  CHECK(keys_of(doc) == std::set<std::string>{"job", "templateInfo"});
  CHECK(keys_of(doc.at("job").as_object()) == std::set<std::string>{"id",
                                                                    "templateId",
                                                                    "name",
                                                                    "config",
                                                                    "priority",
                                                                    "startAt",
                                                                    "submittedAt",
                                                                    "startedAt",
                                                                    "endedAt",
                                                                    "regions",
                                                                    "state",
                                                                    "dataSource",
                                                                    "params",
                                                                    "dataDestination",
                                                                    "duration",
                                                                    "deletedAt",
                                                                    "createdAt",
                                                                    "paymentAmount",
                                                                    "numUnitsEstimation",
                                                                    "numChunks",
                                                                    "errorMessage",
                                                                    "description",
                                                                    "stateTimestamps",
                                                                    "appId"});
  CHECK(keys_of(doc.at("templateInfo").as_object()) ==
        std::set<std::string>{"id", "owner", "description", "app", "partitioner", "assembler"});
  CHECK(answer.body.size() > 1200);
  CHECK(answer.body.size() < 1500);
  CHECK(doc.at("job").at("state") == "JOB_STATE_NEW");
  CHECK(doc.at("job") == mock.job(id, token)); // the answer is what GET returns

  json::value expected = before;
  expected.at("config").at("taskTimeout") = 600;
  CHECK(mock.job(id, token) == expected);

  SUBCASE("configs: int64 as a decimal string, only the fields present") {
    REQUIRE(c->request("PATCH", patch_target(id, "configs"),
                       R"({"jobTimeout":"7200","isTestJob":true})", token)
                .status == 200);
    expected.at("config").at("jobTimeout") = 7200; // answered as a number
    expected.at("config").at("isTestJob") = true;
    CHECK(mock.job(id, token) == expected);
  }
  SUBCASE("jobname sets the name") {
    REQUIRE(
        c->request("PATCH", patch_target(id, "jobname"), R"("nightly \"42\" é")", token).status ==
        200);
    expected.at("name") = "nightly \"42\" é";
    CHECK(mock.job(id, token) == expected);
  }
  SUBCASE("params replaces each key present, whole, and keeps the others") {
    REQUIRE(c->request("PATCH", patch_target(id, "params"),
                       R"({"app":{"quality":"high","n":[1,2]},"preset":"p1"})", token)
                .status == 200);
    REQUIRE(
        c->request("PATCH", patch_target(id, "params"), R"({"app":{"steps":30}})", token).status ==
        200);
    expected.at("params").at("app") = json::parse(R"({"steps":30})");
    expected.at("params").at("preset") = "p1";
    CHECK(mock.job(id, token) == expected);
  }
  SUBCASE("datasource sets dataSource and/or dataDestination whole") {
    const char* dest = R"({"dataSourceDescriptor":"bucket","params":{"@type":"x","name":"new"}})";
    REQUIRE(c->request("PATCH", patch_target(id, "datasource"),
                       std::string(R"({"dataDestination":)") + dest + "}", token)
                .status == 200);
    expected.at("dataDestination") = json::parse(dest);
    CHECK(mock.job(id, token) == expected);
    const char* src = R"({"dataSourceDescriptor":"s3","params":{"bucket":"b"}})";
    REQUIRE(c->request("PATCH", patch_target(id, "datasource"),
                       std::string(R"({"dataSource":)") + src +
                           R"(,"dataDestination":{"dataSourceDescriptor":"bypass"}})",
                       token)
                .status == 200);
    expected.at("dataSource") = json::parse(src);
    expected.at("dataDestination") = json::parse(R"({"dataSourceDescriptor":"bypass"})");
    CHECK(mock.job(id, token) == expected);
  }
  // Other jobs are untouched.
  CHECK(mock.job("job-0000002", token).at("config") == before.at("config"));
}

TEST_CASE("schema errors are 400 with the validator's message and change nothing") {
  mock_process mock;
  std::string token = mock.token();
  auto c = mock.client();
  json::value before = mock.job("job-0000001", token);
  struct bad {
    const char* op;
    const char* body;
    const char* says;
  };
  for (auto [op, body, says] :
       {bad{"configs", R"({"taskTimeot":1})", "taskTimeot"},
        bad{"configs", R"({"taskTimeout":"abc"})", "taskTimeout"},
        bad{"configs", R"({"isTestJob":"yes"})", "isTestJob"},
        bad{"jobname", R"({"name":"x"})", ""}, bad{"params", R"({"app":"x"})", "app"},
        bad{"datasource", R"({"dataSource":{"params":{}}})", "dataSourceDescriptor"},
        // passes the schema, but the server knows no such source
        bad{"datasource", R"({"dataDestination":{"dataSourceDescriptor":"ftp"}})", "ftp"},
        bad{"configs", R"({"taskTimeout":1)", ""}, bad{"configs", "", ""}}) {
    CAPTURE(op);
    CAPTURE(body);
    auto answer = c->request("PATCH", patch_target("job-0000001", op), body, token);
    check_status_body(answer, 400, 3);
    CHECK(json::parse(answer.body).at("message").as_string().find(says) != json::string::npos);
  }
  CHECK(mock.job("job-0000001", token) == before);
  CHECK(mock.journal_records().empty());
  CHECK(mock.stats().at("applied").to_number<std::uint64_t>() == 0);
}

TEST_CASE("401 without a valid token, the raw token and a Bearer prefix both work") {
  mock_process mock;
  std::string token = mock.token();
  auto c = mock.client();
  std::string target = patch_target("job-0000001", "jobname");
  check_status_body(c->request("PATCH", target, R"("x")"), 401, 16);
  check_status_body(c->request("PATCH", target, R"("x")", "not-a-token"), 401, 16);
  check_status_body(c->request("PATCH", target, R"("x")", mock_test_key), 401,
                    16); // the key is no token
  check_status_body(c->request("GET", "/v1/customer/jobs/job-0000001"), 401, 16);
  CHECK(c->request("PATCH", target, R"("raw")", token).status == 200);
  CHECK(c->request("PATCH", target, R"("bearer")", "Bearer " + token).status == 200);
  CHECK(mock.journal_records().size() == 2);
}

TEST_CASE("404 for an unknown job or route, 405 for a wrong method") {
  mock_process mock({}, 5);
  std::string token = mock.token();
  auto c = mock.client();
  check_status_body(
      c->request("PATCH", patch_target("job-0000006", "configs"), R"({"taskTimeout":1})", token),
      404, 5);
  check_status_body(c->request("GET", "/v1/customer/jobs/job-0000006", {}, token), 404, 5);
  check_status_body(c->request("PATCH", patch_target("job-0000001", "priority"), "{}", token), 404,
                    5);
  check_status_body(c->request("GET", "/v2/whatever"), 404, 5);
  check_status_body(
      c->request("PATCH", "/v1/customer/jobs//configs", R"({"taskTimeout":1})", token), 404, 5);
  check_status_body(
      c->request("POST", patch_target("job-0000001", "configs"), R"({"taskTimeout":1})", token),
      405, 12);
  check_status_body(c->request("DELETE", "/v1/customer/jobs/job-0000001", {}, token), 405, 12);
  // --jobs creates exactly job-0000001 ... job-N with 7 digits.
  CHECK(mock.job("job-0000005", token).at("id") == "job-0000005");
  CHECK(mock.job("job-5", token).is_null());
  CHECK(mock.journal_records().empty());
}

TEST_CASE("percent-encoded job ids are decoded to one segment") {
  mock_process mock({"--job-id", "a/b c", "--job-id", "ünï%code"});
  std::string token = mock.token();
  auto c = mock.client();
  auto answer = c->request("PATCH", "/v1/customer/jobs/a%2Fb%20c/jobname", R"("slashed")", token);
  REQUIRE(answer.status == 200);
  CHECK(json::parse(answer.body).at("job").at("id") == "a/b c");
  CHECK(c->request("PATCH", patch_target("ünï%code", "configs"), R"({"isTestJob":true})", token)
            .status == 200);
  CHECK(mock.job("a/b c", token).at("name") == "slashed");
  CHECK(mock.job("ünï%code", token).at("config").at("isTestJob") == true);
  // Lower-case hex works too; "a/b c" unencoded is another route.
  CHECK(c->request("GET", "/v1/customer/jobs/a%2fb%20c", {}, token).status == 200);
  CHECK(c->request("PATCH", "/v1/customer/jobs/a/b%20c/jobname", R"("x")", token).status == 404);
  check_status_body(c->request("PATCH", "/v1/customer/jobs/a%2/jobname", R"("x")", token), 400, 3);
  check_status_body(c->request("PATCH", "/v1/customer/jobs/a%zz/jobname", R"("x")", token), 400, 3);
  auto journal = mock.journal_records();
  REQUIRE(journal.size() == 2);
  CHECK(journal[0].at("jobId") == "a/b c");
  CHECK(journal[1].at("jobId") == "ünï%code");
}

TEST_CASE("plain HTTP with --plain") {
  mock_process mock({}, 3, false);
  CHECK(mock.cert().empty());
  std::string token = mock.token();
  auto c = mock.client();
  CHECK(c->request("PATCH", patch_target("job-0000002", "configs"), R"({"jobTimeout":5})", token)
            .status == 200);
  CHECK(mock.job("job-0000002", token).at("config").at("jobTimeout") == 5);
}

TEST_CASE("a client that does not trust the certificate, or checks another name, cannot connect") {
  mock_process mock;
  mock_process other; // another mock's certificate is not ours
  tls_test_client wrong_ca(mock.port(), other.cert());
  CHECK_THROWS(wrong_ca.connect());
  tls_test_client right(mock.port(), mock.cert(), "127.0.0.1");
  CHECK_NOTHROW(right.connect()); // the certificate names 127.0.0.1 too
  tls_test_client wrong_name(mock.port(), mock.cert(), "example.com");
  CHECK_THROWS(wrong_name.connect());
}
