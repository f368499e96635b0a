#include <jobpatch/text/json_writer.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <string>

using namespace jobpatch;

TEST_CASE("json_writer: commas, nesting and empty objects are its business") {
  std::string out;
  json_writer json(out);
  json.begin_object()
      .number("a", 1)
      .begin_object("empty")
      .end_object()
      .begin_object("inner")
      .integer("neg", -3)
      .boolean("t", true)
      .end_object()
      .string("s", "q\"\n")
      .fixed("x", 12.3450, 3)
      .fixed("nan", std::numeric_limits<double>::quiet_NaN(), 1)
      .end_object();
  CHECK(out == R"({"a":1,"empty":{},"inner":{"neg":-3,"t":true},"s":"q\"\n","x":12.345,"nan":0})");
}

TEST_CASE("json_writer: keys are escaped like strings, an empty document is {}") {
  std::string out;
  json_writer(out).begin_object().number("a\"b", 2).end_object();
  CHECK(out == R"({"a\"b":2})");
  out.clear();
  json_writer(out).begin_object().end_object();
  CHECK(out == "{}");
}

TEST_CASE("json_writer: arrays of objects and of numbers, and null") {
  std::string out;
  json_writer json(out);
  json.begin_object().begin_array("empty").end_array().begin_array("gates");
  json.begin_object().string("expr", "p99<1s").null("actual").end_object();
  json.begin_object().boolean("pass", true).end_object();
  json.end_array().begin_array("ms").element(1.5, 1).element(2, 0).end_array().end_object();
  CHECK(out ==
        R"({"empty":[],"gates":[{"expr":"p99<1s","actual":null},{"pass":true}],"ms":[1.5,2]})");
}
