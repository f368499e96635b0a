#include <jobpatch/results/resume_state.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

using namespace jobpatch;

namespace {
std::string temp_file(const std::string& content) {
  char name[] = "/tmp/jobpatch-resume-XXXXXX";
  int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  return name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
} // namespace

TEST_CASE("resume_state: ok records with their fingerprint are skipped — changed lines are not") {
  auto path = temp_file(
      R"({"line":1,"jobId":"a","op":"configs","outcome":"ok","status":200,"fp":"00000000000000aa"})"
      "\n"
      R"({"line":2,"jobId":"b","op":"configs","outcome":"failed","status":503,"fp":"00000000000000bb"})"
      "\n"
      R"({"line":3,"jobId":"c","op":"configs","outcome":"ok","fp":"00000000000000cc"})"
      "\n"
      R"({"line":3,"jobId":"c","op":"configs","outcome":"skipped","fp":"00000000000000cc"})"
      "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  CHECK(notes.empty());
  CHECK(state.ok_records() == 2);
  CHECK(state.check(1, 0xaa) == resume_state::verdict::applied);
  CHECK(state.check(1, 0xab) == resume_state::verdict::changed);
  CHECK(state.check(2, 0xbb) == resume_state::verdict::not_recorded);
  CHECK(state.check(3, 0xcc) == resume_state::verdict::applied);
  CHECK(state.check(4, 0xcc) == resume_state::verdict::not_recorded);
  std::remove(path.c_str());
}

TEST_CASE("resume_state: a torn last record is ignored and cut off the file") {
  std::string good = R"({"line":1,"outcome":"ok","fp":"0000000000000001"})"
                     "\n";
  auto path = temp_file(good + R"({"line":2,"outcome":"ok","fp":"00000)");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("torn last record") != std::string::npos);
  CHECK(state.check(1, 1) == resume_state::verdict::applied);
  CHECK(state.check(2, 0) == resume_state::verdict::not_recorded);
  CHECK(slurp(path) == good);
  std::remove(path.c_str());
}

TEST_CASE("resume_state: foreign lines are counted and ignored — a missing file is empty") {
  auto path = temp_file("hello\n{\"something\":1}\n"
                        R"({"line":5,"outcome":"ok","fp":"0000000000000005"})"
                        "\n");
  std::vector<std::string> notes;
  auto state = resume_state::load(path, notes);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("ignored 2 lines that are not jobpatch result records (first: line 1") == 0);
  CHECK(state.check(5, 5) == resume_state::verdict::applied);
  std::remove(path.c_str());
  notes.clear();
  CHECK(resume_state::load("/tmp/jobpatch-no-such-results", notes).ok_records() == 0);
  CHECK(notes.empty());
}
