#include <jobpatch/run/control_command.hpp>

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace jobpatch;
using kind = control_command::kind;

namespace {

control_parse parse(std::initializer_list<std::string_view> words) {
  std::vector<std::string_view> list(words);
  return parse_control_command(list);
}

// The command the words give; fails the test when they are refused.
control_command accepted(std::initializer_list<std::string_view> words) {
  auto p = parse(words);
  REQUIRE_MESSAGE(p.command.has_value(), p.error);
  CHECK(p.error.empty());
  return *p.command;
}

// The error the words give; fails the test when they are accepted.
std::string refused(std::initializer_list<std::string_view> words) {
  auto p = parse(words);
  REQUIRE_MESSAGE(!p.command.has_value(), to_string(*p.command));
  CHECK(!p.error.empty());
  return p.error;
}

} // namespace

TEST_CASE("control_command: the three commands without a value") {
  CHECK(accepted({"status"}) == control_command{kind::status, 0, 0});
  CHECK(accepted({"pause"}) == control_command{kind::pause, 0, 0});
  CHECK(accepted({"resume"}) == control_command{kind::resume, 0, 0});
}

TEST_CASE("control_command: rate takes a number above 0 or none") {
  CHECK(accepted({"rate", "400"}) == control_command{kind::rate, 400, 0});
  CHECK(accepted({"rate", "12.5"}) == control_command{kind::rate, 12.5, 0});
  CHECK(accepted({"rate", "0.25"}).rate == 0.25);
  CHECK(accepted({"rate", ".5"}).rate == 0.5);
  CHECK(accepted({"rate", "1e3"}).rate == 1000);
  CHECK(accepted({"rate", "none"}) == control_command{kind::rate, 0, 0});
}

TEST_CASE("control_command: rate 0 or below is refused and names rate none") {
  for (std::string_view value : {"0", "0.0", "-0", "-5", "-0.5"}) {
    CAPTURE(value);
    auto error = refused({"rate", value});
    CHECK(error.find("rate none lifts the limit") != std::string::npos);
  }
}

TEST_CASE("control_command: rate refuses what is not a finite number") {
  for (std::string_view value : {"nan", "NaN", "inf", "-inf", "infinity", "1e999", "1e-999"}) {
    CAPTURE(value);
    auto error = refused({"rate", value});
    CHECK(error.find("rate") != std::string::npos);
  }
  for (std::string_view value :
       {"", "abc", "400x", "400 ", " 400", "+400", "0x10", "4,5", "12.5.1", "None", "NONE"}) {
    CAPTURE(value);
    auto error = refused({"rate", value});
    CHECK(error.find("expected requests/s above 0") != std::string::npos);
    CHECK(error.find("none") != std::string::npos);
  }
}

TEST_CASE("control_command: connections takes 1 to 1024 or auto") {
  CHECK(accepted({"connections", "1"}) == control_command{kind::connections, 0, 1});
  CHECK(accepted({"connections", "8"}) == control_command{kind::connections, 0, 8});
  CHECK(accepted({"connections", "1024"}) == control_command{kind::connections, 0, 1024});
  CHECK(accepted({"connections", "auto"}) == control_command{kind::connections, 0, 0});
  for (std::string_view value : {"0", "1025", "4294967296", "99999999999999999999"}) {
    CAPTURE(value);
    CHECK(refused({"connections", value}).find("1 to 1024, or auto") != std::string::npos);
  }
  for (std::string_view value : {"", "-1", "+8", "8.0", "8x", " 8", "eight", "Auto", "AUTO"}) {
    CAPTURE(value);
    CHECK(refused({"connections", value}).find("1 to 1024, or auto") != std::string::npos);
  }
}

TEST_CASE("control_command: exactly as many words as the command takes") {
  CHECK(refused({"status", "now"}).find("takes no value") != std::string::npos);
  CHECK(refused({"pause", "5"}).find("takes no value") != std::string::npos);
  CHECK(refused({"resume", ""}).find("takes no value") != std::string::npos);
  CHECK(refused({"rate"}).find("rate none") != std::string::npos);
  CHECK(refused({"rate", "400", "500"}).find("exactly one value") != std::string::npos);
  CHECK(refused({"connections"}).find("connections auto") != std::string::npos);
  CHECK(refused({"connections", "8", "auto"}).find("exactly one value") != std::string::npos);
}

TEST_CASE("control_command: names are exact and lowercase and an unknown one lists them") {
  for (std::string_view name :
       {"Status", "PAUSE", "Resume", "Rate", "stat", "statuses", "--status", "", "rate400"}) {
    CAPTURE(name);
    auto error = refused({name});
    CHECK(error.find("status, pause, resume, rate R") != std::string::npos);
    CHECK(error.find("connections N") != std::string::npos);
  }
  CHECK(refused({}).find("no command") != std::string::npos);
}

TEST_CASE("control_command: a long word is cut in the error") {
  std::string word(5000, 'x');
  CHECK(refused({word}).size() < 300);
  CHECK(refused({"rate", word}).size() < 300);
}

TEST_CASE("control_command: canonical words") {
  CHECK(to_string({kind::status, 0, 0}) == "status");
  CHECK(to_string({kind::pause, 0, 0}) == "pause");
  CHECK(to_string({kind::resume, 0, 0}) == "resume");
  CHECK(to_string({kind::rate, 400, 0}) == "rate 400");
  CHECK(to_string({kind::rate, 12.5, 0}) == "rate 12.5");
  CHECK(to_string({kind::rate, 0.1, 0}) == "rate 0.1");
  CHECK(to_string({kind::rate, 0, 0}) == "rate none");
  CHECK(to_string({kind::connections, 0, 8}) == "connections 8");
  CHECK(to_string({kind::connections, 0, 0}) == "connections auto");
  // What was typed is not kept: the value is.
  CHECK(to_string(accepted({"rate", "400.000"})) == "rate 400");
  CHECK(to_string(accepted({"rate", "1e3"})) == "rate 1000");
  CHECK(to_string(accepted({"connections", "008"})) == "connections 8");
}

TEST_CASE("control_command: the canonical words read back as the same command") {
  std::mt19937_64 random(27);
  std::uniform_real_distribution<double> exponent(-6, 9);
  for (int i = 0; i < 2000; ++i) {
    control_command c{kind::rate, std::pow(10.0, exponent(random)), 0};
    auto back = parse_control_line(to_string(c));
    REQUIRE_MESSAGE(back.command.has_value(), back.error);
    CHECK(*back.command == c);
  }
  for (unsigned n : {0U, 1U, 2U, 16U, 1000U, 1024U}) {
    control_command c{kind::connections, 0, n};
    CHECK(parse_control_line(to_string(c)).command == c);
  }
  for (kind k : {kind::status, kind::pause, kind::resume}) {
    control_command c{k, 0, 0};
    CHECK(parse_control_line(to_string(c)).command == c);
  }
}

TEST_CASE("control_command: a request line is split on spaces") {
  CHECK(parse_control_line("rate 400").command == control_command{kind::rate, 400, 0});
  CHECK(parse_control_line("  rate   400  ").command == control_command{kind::rate, 400, 0});
  CHECK(parse_control_line("status").command == control_command{kind::status, 0, 0});
  CHECK(!parse_control_line("").command);
  CHECK(!parse_control_line("   ").command);
  // Only spaces separate: a tab or a NUL stays in the word, which is then refused.
  CHECK(!parse_control_line("rate\t400").command);
  CHECK(!parse_control_line(std::string_view("status\0", 7)).command);
  CHECK(!parse_control_line("status\r").command);
}

TEST_CASE("control_command: the reply lines are JSON") {
  auto change = boost::json::parse(control_reply_change({kind::rate, 400, 0})).as_object();
  CHECK(change.at("ok").as_bool());
  CHECK(change.at("change").as_string() == "rate 400");

  std::string message = "bad \"word\"\n\x01 and more";
  auto error = boost::json::parse(control_reply_error(message)).as_object();
  CHECK(!error.at("ok").as_bool());
  CHECK(error.at("error").as_string() == message);
  CHECK(control_reply_error(message).find('\n') == std::string::npos);

  auto cut = boost::json::parse(control_reply_error(std::string(1000, 'e'))).as_object();
  CHECK(cut.at("error").as_string().size() <= 203);
}
