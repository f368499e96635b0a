#include <jobpatch/results/results_merge.hpp>

#include <jobpatch/results/file_writer.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

using namespace jobpatch;

namespace {

// A scratch directory with files, removed at the end.
struct scratch {
  std::string dir;
  std::vector<std::string> files;
  scratch() {
    char name[] = "/tmp/jobpatch-merge-XXXXXX";
    dir = ::mkdtemp(name);
  }
  ~scratch() {
    for (const auto& f : files) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  }
  std::string file(const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    files.push_back(path);
    return path;
  }
  std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

std::string rec(int line, const char* job, const char* outcome, const char* extra = "") {
  std::string r = "{\"line\":" + std::to_string(line);
  if (*job) r += std::string(",\"jobId\":\"") + job + "\"";
  return r + ",\"outcome\":\"" + outcome + "\"" + extra + "}\n";
}

} // namespace

TEST_CASE("results_merge: each line's last record, in line order, across shards") {
  scratch s;
  // Shard 1 wrote as outcomes arrived (out of line order), then a --resume retried line 4.
  auto a = s.file("a.ndjson", rec(4, "j1", "failed", ",\"status\":503") + rec(1, "j1", "ok") +
                                  rec(6, "", "invalid") + rec(4, "j1", "ok", ",\"status\":200"));
  auto b = s.file("b.ndjson", rec(5, "j2", "ok") + rec(2, "j2", "ok") + rec(6, "", "invalid") +
                                  rec(3, "j2", "failed"));
  auto out = s.dir + "/merged.ndjson";
  s.files.push_back(out);
  results_merge merge;
  merge.add_file(a);
  merge.add_file(b);
  merge.finish();
  CHECK(merge.problems().empty());
  CHECK(merge.records_read() == 8);
  CHECK(merge.superseded() == 1);
  CHECK(merge.in_every_shard() == 1);
  CHECK(merge.lines() == 6);
  file_writer w(out, file_writer::mode::truncate);
  merge.write(w);
  w.close();
  CHECK(s.read(out) == rec(1, "j1", "ok") + rec(2, "j2", "ok") + rec(3, "j2", "failed") +
                           rec(4, "j1", "ok", ",\"status\":200") + rec(5, "j2", "ok") +
                           rec(6, "", "invalid"));
}

TEST_CASE("results_merge: a line in two shards, and lines that are not records, are problems") {
  scratch s;
  auto a = s.file("a.ndjson", rec(1, "j1", "ok") + "not json\n" + rec(2, "j1", "ok") +
                                  "{\"line\":3}\n" + "{\"line\":0,\"outcome\":\"ok\"}\n");
  auto b = s.file("b.ndjson", rec(2, "j1", "failed") + "[1,2]\n" +
                                  "{\"line\":9,\"outcome\":\"maybe\"}\n" +
                                  rec(7, "j9", "ok").substr(0, 12)); // torn: no line end
  results_merge merge;
  merge.add_file(a);
  merge.add_file(b);
  merge.finish();
  std::string all;
  for (const auto& p : merge.problems()) all += p + "\n";
  CHECK(merge.problem_count() == 6);
  CHECK(all.find(a + ":2: not a JSON object") != std::string::npos);
  CHECK(all.find(a + ":4: no \"line\" or no \"outcome\"") != std::string::npos);
  CHECK(all.find(a + ":5: \"line\" is not a line number") != std::string::npos);
  CHECK(all.find(b + ":2: not a JSON object") != std::string::npos);
  CHECK(all.find(b + ":3: \"outcome\" is not") != std::string::npos);
  CHECK(all.find("line 2 is recorded in " + a + " and in " + b + ": the shards overlapped") !=
        std::string::npos);
  REQUIRE(merge.notes().size() == 1);
  CHECK(merge.notes()[0].find(b + ":4: left out a torn last record") == 0);
}

TEST_CASE("results_merge: an invalid record with a job id belongs to one shard") {
  scratch s;
  auto a = s.file("a.ndjson", rec(3, "j1", "invalid"));
  auto b = s.file("b.ndjson", rec(3, "j1", "invalid"));
  results_merge merge;
  merge.add_file(a);
  merge.add_file(b);
  merge.finish();
  CHECK(merge.problem_count() == 1);
}

TEST_CASE("results_merge: long files, CRLF and blank lines") {
  scratch s;
  std::string text;
  for (int i = 20'000; i >= 1; --i) text += rec(i, "j", "ok", ",\"state\":\"JOB_STATE_NEW\"");
  text += "\n  \n";
  text += "{\"line\":20001,\"outcome\":\"ok\"}\r\n";
  auto a = s.file("a.ndjson", text);
  auto out = s.dir + "/m.ndjson";
  s.files.push_back(out);
  results_merge merge;
  merge.add_file(a);
  merge.finish();
  CHECK(merge.problems().empty());
  CHECK(merge.lines() == 20'001);
  file_writer w(out, file_writer::mode::truncate);
  merge.write(w);
  w.close();
  std::string merged = s.read(out);
  CHECK(merged.starts_with(rec(1, "j", "ok", ",\"state\":\"JOB_STATE_NEW\"")));
  CHECK(merged.ends_with(rec(20'000, "j", "ok", ",\"state\":\"JOB_STATE_NEW\"") +
                         "{\"line\":20001,\"outcome\":\"ok\"}\n"));
}

TEST_CASE("results_merge: a line over the record limit is a problem, and what follows is read "
          "from the right place") {
  scratch s;
  std::string big(3 << 20, 'x'); // 3 MB: longer than any record, and than the read buffer
  auto a = s.file("a.ndjson", rec(2, "j", "ok") + big + "\n" + rec(1, "j", "failed") + big);
  results_merge merge;
  merge.add_file(a);
  merge.finish();
  REQUIRE(merge.problem_count() == 2);
  CHECK(merge.problems()[0] == a + ":2: a line of 3145728 bytes is not a jobpatch result record");
  CHECK(merge.problems()[1] == a + ":4: a line of 3145728 bytes is not a jobpatch result record");
  CHECK(merge.records_read() == 2);

  auto b =
      s.file("b.ndjson", rec(2, "j", "ok") + std::string(1000, ' ') + "\n" + rec(1, "j", "failed"));
  auto out = s.dir + "/m.ndjson";
  s.files.push_back(out);
  results_merge ok;
  ok.add_file(b);
  ok.finish();
  CHECK(ok.problems().empty());
  file_writer w(out, file_writer::mode::truncate);
  ok.write(w);
  w.close();
  CHECK(s.read(out) == rec(1, "j", "failed") + rec(2, "j", "ok"));
}
