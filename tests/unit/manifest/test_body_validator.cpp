#include <jobpatch/manifest/body_validator.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {
// Returns "" when valid, else the error message.
std::string check(op_kind op, std::string_view body) {
  static body_validator validator;
  return validator.validate(op, body) ? std::string() : validator.error();
}
} // namespace

TEST_CASE("body_validator: valid configs bodies") {
  CHECK(check(op_kind::configs, R"({"taskTimeout":600,"jobTimeout":3600,"isTestJob":true})") == "");
  CHECK(check(op_kind::configs, R"({"taskTimeout":"600"})") == "");
  CHECK(check(op_kind::configs, R"({"jobTimeout":"-5"})") == "");
  CHECK(check(op_kind::configs, R"({"taskTimeout":9223372036854775807})") == "");
  CHECK(check(op_kind::configs, R"({"taskTimeout":"-9223372036854775808"})") == "");
  CHECK(check(op_kind::configs, R"( { "isTestJob" : false } )") == "");
  CHECK(check(op_kind::configs, R"({"task\u0054imeout":1})") == ""); // escaped key
}

TEST_CASE("body_validator: configs type and range errors") {
  CHECK(check(op_kind::configs, R"({"taskTimeout":"abc"})") ==
        R"(configs.taskTimeout must be an integer, got string "abc")");
  CHECK(check(op_kind::configs, R"({"taskTimeout":1.5})") ==
        "configs.taskTimeout must be an integer, got number 1.5");
  CHECK(check(op_kind::configs, R"({"jobTimeout":true})") ==
        "configs.jobTimeout must be an integer, got boolean true");
  CHECK(check(op_kind::configs, R"({"jobTimeout":null})") ==
        "configs.jobTimeout must be an integer, got null");
  CHECK(check(op_kind::configs, R"({"taskTimeout":9223372036854775808})") ==
        "configs.taskTimeout is out of the int64 range");
  CHECK(check(op_kind::configs, R"({"taskTimeout":99999999999999999999})") ==
        "configs.taskTimeout is out of the int64 range");
  CHECK(check(op_kind::configs, R"({"taskTimeout":"9223372036854775808"})") ==
        "configs.taskTimeout is out of the int64 range");
  CHECK(check(op_kind::configs, R"({"taskTimeout":"+5"})") ==
        R"(configs.taskTimeout must be an integer, got string "+5")");
  CHECK(check(op_kind::configs, R"({"taskTimeout":" 5"})") ==
        R"(configs.taskTimeout must be an integer, got string " 5")");
  CHECK(check(op_kind::configs, R"({"taskTimeout":""})") ==
        R"(configs.taskTimeout must be an integer, got string "")");
  // The whole string must be the number: from_chars alone stops at the first non-digit.
  CHECK(check(op_kind::configs, R"({"taskTimeout":"600abc"})") ==
        R"(configs.taskTimeout must be an integer, got string "600abc")");
  CHECK(check(op_kind::configs, R"({"jobTimeout":"5 "})") ==
        R"(configs.jobTimeout must be an integer, got string "5 ")");
  CHECK(check(op_kind::configs, R"({"isTestJob":"true"})") ==
        R"(configs.isTestJob must be a boolean, got string "true")");
  CHECK(check(op_kind::configs, R"({"isTestJob":1})") ==
        "configs.isTestJob must be a boolean, got number 1");
}

TEST_CASE("body_validator: unknown, misspelt and duplicate keys") {
  CHECK(check(op_kind::configs, R"({"taskTimout":5})") ==
        R"(configs: unknown key "taskTimout" (did you mean "taskTimeout"?))");
  CHECK(check(op_kind::configs, R"({"tasktimeout":5})") ==
        R"(configs: unknown key "tasktimeout" (did you mean "taskTimeout"?))");
  CHECK(check(op_kind::configs, R"({"priority":5})") ==
        R"(configs: unknown key "priority" (expected taskTimeout, jobTimeout, isTestJob))");
  CHECK(check(op_kind::configs, R"({"isTestJob":true,"isTestJob":false})") ==
        R"(configs: duplicate key "isTestJob")");
  CHECK(check(op_kind::params, R"({"ap":{}})") ==
        R"(params: unknown key "ap" (did you mean "app"?))");
  CHECK(check(op_kind::params, R"({"app":{},"app":{}})") == R"(params: duplicate key "app")");
  CHECK(check(op_kind::params, R"({"app":{"q":1,"r":2,"q":3}})") ==
        R"(params.app has a duplicate key "q")");
  CHECK(check(op_kind::params, R"({"app":{"x":{"q":1,"\u0071":3}}})") ==
        R"(params.app.x has a duplicate key "q")");
  // An object of many keys (compared another way than a few), the repeated one far apart.
  std::string many = R"({"app":{"q":0,)";
  for (int i = 0; i < 100; ++i) many += R"("k)" + std::to_string(i) + R"(":0,)";
  CHECK(check(op_kind::params, many + R"("z":0}})").empty());
  CHECK(check(op_kind::params, many + R"("q":1}})") == R"(params.app has a duplicate key "q")");
  CHECK(check(op_kind::datasource, R"({"datasource":{}})") ==
        R"(datasource: unknown key "datasource" (did you mean "dataSource"?))");
  CHECK(check(op_kind::datasource, R"({"dataSource":{"dataSourceDescriptor":"s3","param":{}}})") ==
        R"(datasource.dataSource: unknown key "param" (did you mean "params"?))");
}

TEST_CASE("body_validator: params") {
  CHECK(
      check(
          op_kind::params,
          R"({"preset":"p","partitioner":{},"assembler":{},"app":{"quality":"high","n":[1,2.5,-3e2,true,null,{"deep":"x"}]}})") ==
      "");
  CHECK(check(op_kind::params, R"({"app":{"big":123456789012345678901234567890}})") == "");
  CHECK(check(op_kind::params, R"({"preset":5})") ==
        "params.preset must be a string, got number 5");
  CHECK(check(op_kind::params, R"({"app":"high"})") ==
        R"(params.app must be an object, got string "high")");
  CHECK(check(op_kind::params, R"({"app":[1]})") == "params.app must be an object, got array");
  CHECK(check(op_kind::params, R"({"partitioner":null})") ==
        "params.partitioner must be an object, got null");
  CHECK(check(op_kind::params, R"({})") ==
        "params body sets no field (expected preset, partitioner, assembler or app)");
  CHECK(check(op_kind::params, R"({"app":{"a":tru}})").find("params.app.a: invalid JSON") == 0);
  CHECK(check(op_kind::params, R"({"app":{"a":[1,2,}}})").find("invalid JSON") !=
        std::string::npos);
  CHECK(check(op_kind::params, R"({"app":{"s":"\x"}})").find("invalid JSON") != std::string::npos);
}

TEST_CASE("body_validator: nesting deeper than the limit is an error, not a crash") {
  std::string ok = R"({"app":)", bad = R"({"app":)";
  for (int i = 0; i < 60; ++i) ok += R"({"a":)";
  ok += "1";
  for (int i = 0; i < 60; ++i) ok += "}";
  ok += "}";
  CHECK(check(op_kind::params, ok) == "");
  for (int i = 0; i < 5000; ++i) bad += "[";
  for (int i = 0; i < 5000; ++i) bad += "]";
  bad += "}";
  CHECK_FALSE(check(op_kind::params, bad).empty());
  std::string deep_objects = R"({"app":)";
  for (int i = 0; i < 100; ++i) deep_objects += R"({"a":)";
  deep_objects += "1";
  for (int i = 0; i < 101; ++i) deep_objects += "}";
  CHECK(check(op_kind::params, deep_objects).find("nested deeper than the limit of 64 levels") !=
        std::string::npos);
}

TEST_CASE("body_validator: the nesting limit holds to the level") {
  // params.app is level 1; each object nested in it one more. The 64th level may hold a
  // value, not another object.
  auto nested = [](int objects) {
    std::string body = R"({"app":)";
    for (int i = 0; i < objects; ++i) body += R"({"a":)";
    body += "1";
    for (int i = 0; i < objects; ++i) body += "}";
    return body + "}";
  };
  CHECK(check(op_kind::params, nested(63)) == "");
  CHECK(check(op_kind::params, nested(64)).find("nested deeper than the limit of 64 levels") !=
        std::string::npos);
}

TEST_CASE("body_validator: datasource") {
  CHECK(
      check(
          op_kind::datasource,
          R"({"dataSource":{"dataSourceDescriptor":"s3","params":{"@type":"type.googleapis.com/x","bucket":"b"}},"dataDestination":{"dataSourceDescriptor":"bucket","params":{}}})") ==
      "");
  CHECK(check(op_kind::datasource, R"({"dataDestination":{"dataSourceDescriptor":"bypass"}})") ==
        "");
  CHECK(check(op_kind::datasource, R"({"dataSource":{"params":{}}})") ==
        "datasource.dataSource.dataSourceDescriptor is required");
  CHECK(check(op_kind::datasource, R"({"dataSource":{"dataSourceDescriptor":""}})") ==
        "datasource.dataSource.dataSourceDescriptor must not be empty");
  CHECK(check(op_kind::datasource, R"({"dataSource":{"dataSourceDescriptor":3}})") ==
        "datasource.dataSource.dataSourceDescriptor must be a string, got number 3");
  CHECK(check(op_kind::datasource, R"({"dataSource":"s3"})") ==
        R"(datasource.dataSource must be an object, got string "s3")");
  CHECK(check(op_kind::datasource, R"({"dataSource":{"dataSourceDescriptor":"s3","params":[]}})") ==
        "datasource.dataSource.params must be an object, got array");
  CHECK(check(op_kind::datasource, R"({})") ==
        "datasource body sets no field (expected dataSource or dataDestination)");
}

TEST_CASE("body_validator: jobname") {
  CHECK(check(op_kind::jobname, R"("My Job")") == "");
  CHECK(check(op_kind::jobname, R"("caf\u00e9 \ud83d\ude00")") == "");
  CHECK(check(op_kind::jobname, R"(  "padded"  )") == "");
  CHECK(check(op_kind::jobname, R"({"name":"x"})") ==
        "jobname body must be a JSON string, got object");
  CHECK(check(op_kind::jobname, "42") == "jobname body must be a JSON string, got number 42");
  CHECK(check(op_kind::jobname, R"("a" "b")") ==
        R"(jobname: invalid JSON: unexpected text after the JSON value: "\"b\"")");
  CHECK_FALSE(check(op_kind::jobname, R"("unclosed)").empty());
  CHECK_FALSE(check(op_kind::jobname, R"("bad \q escape")").empty());
}

TEST_CASE("body_validator: not an object, invalid UTF-8, trailing content") {
  CHECK(check(op_kind::configs, "[]") == "configs body must be a JSON object, got array");
  CHECK(check(op_kind::configs, R"("x")") ==
        R"(configs body must be a JSON object, got string "x")");
  CHECK(check(op_kind::params, "{\"preset\":\"\xff\"}") == "params: invalid UTF-8");
  CHECK(check(op_kind::configs, R"({"isTestJob":true} {})").find("invalid JSON") !=
        std::string::npos);
  CHECK_FALSE(check(op_kind::configs, "").empty());
}

TEST_CASE("body_validator: no copy needed when the caller provides padding") {
  std::string buffer = R"({"taskTimeout":1})";
  std::size_t size = buffer.size();
  buffer.resize(size + 64, ' ');
  body_validator validator;
  CHECK(validator.validate(op_kind::configs, std::string_view(buffer.data(), size), buffer.size()));
  // Short padding falls back to a copy and still works.
  CHECK(validator.validate(op_kind::configs, std::string_view(buffer.data(), size), size));
  CHECK_FALSE(validator.validate(op_kind::configs, R"({"taskTimeout":"x"})"));
  CHECK(validator.validate(op_kind::configs, std::string_view(buffer.data(), size), size));
  CHECK(validator.error().empty());
}
