#include <jobpatch/results/output_thread.hpp>

#include <doctest/doctest.h>

#include "unit/temp_files.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include <unistd.h>

using namespace jobpatch;
using namespace jobpatch::test;

namespace {

// A whole-file writer that holds the writer thread until released: the test's stalled disk.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool entered = false, open = false;
  std::string written;
} the_gate;

void gated_write(const std::string&, std::string_view content) {
  std::unique_lock lock(the_gate.m);
  the_gate.entered = true;
  the_gate.cv.notify_all();
  the_gate.cv.wait(lock, [] { return the_gate.open; });
  the_gate.written = content;
}

void failing_write(const std::string& path, std::string_view) {
  throw std::runtime_error("cannot write " + path + ": test");
}

} // namespace

TEST_CASE("output_thread: the producer fills the front while the writer is held, nothing lost") {
  std::string path = temp_path();
  {
    output_thread out;
    auto held = out.add_whole("held", gated_write, output_thread::kind::other);
    auto records =
        out.add(file_writer(path, file_writer::mode::truncate), output_thread::kind::records, true);
    std::vector<std::uint64_t> written;
    out.on_written([&](const output_progress& p) { written.push_back(p.written); });
    out.content(held) = "one";
    out.append_to(records) += "a\n";
    CHECK(out.hand_over(false) == 1u);
    {
      std::unique_lock lock(the_gate.m);
      the_gate.cv.wait(lock, [] { return the_gate.entered; });
    }
    // The writer is busy with batch 1: the producer goes on appending, and a hand-over
    // is refused without waiting.
    out.append_to(records) += "b\n";
    CHECK(!out.hand_over(true));
    CHECK(out.append_to(records) == "b\n");
    {
      std::lock_guard lock(the_gate.m);
      the_gate.open = true;
    }
    the_gate.cv.notify_all();
    out.drain(true);
    CHECK(slurp(path) == "a\nb\n");
    CHECK(the_gate.written == "one");
    CHECK(out.progress().written == 2);
    CHECK(out.progress().durable == 2);
    CHECK(out.progress().error.empty());
    out.on_written({});
    CHECK(written == std::vector<std::uint64_t>{1, 2});
    // Nothing new: nothing handed over, all of it is in batch 2.
    CHECK(out.hand_over(false) == 2u);
  }
  std::remove(path.c_str());
}

TEST_CASE("output_thread: a file added before another is written before it, a records error "
          "stops every records file, not the others") {
  std::string results = temp_path(), other = temp_path();
  output_thread out;
  auto r = out.add(file_writer(results, file_writer::mode::truncate), output_thread::kind::records,
                   true);
  // /dev/full: every write fails with ENOSPC, like a full disk.
  auto undo = out.add(file_writer("/dev/full", file_writer::mode::append),
                      output_thread::kind::records, true, r);
  auto o =
      out.add(file_writer(other, file_writer::mode::truncate), output_thread::kind::other, false);
  out.append_to(undo) += "undo 1\n";
  out.append_to(r) += "record 1\n";
  out.append_to(o) += "message\n";
  out.latest(o) = "progress 1";
  out.latest(o) = "progress 2"; // replaces the one not yet handed over
  out.drain(false);
  // The undo file came first and failed: its record never reached the results.
  CHECK(slurp(results).empty());
  CHECK(out.progress().error.find("/dev/full") != std::string::npos);
  CHECK(out.progress().error_code == ENOSPC);
  CHECK(slurp(other) == "message\nprogress 2");
  // Nothing more reaches a records file; the others go on.
  out.append_to(r) += "record 2\n";
  out.append_to(o) += "\nmore";
  out.close();
  CHECK(slurp(results).empty());
  CHECK(slurp(other) == "message\nprogress 2\nmore");
  std::remove(results.c_str());
  std::remove(other.c_str());
}

TEST_CASE("output_thread: an `other` file's error is kept for it and stops nothing") {
  std::string results = temp_path();
  output_thread out;
  auto metrics = out.add_whole("/nonexistent/m.prom", failing_write, output_thread::kind::other);
  auto r = out.add(file_writer(results, file_writer::mode::truncate), output_thread::kind::records,
                   true);
  out.content(metrics) = "x";
  out.append_to(r) += "record\n";
  CHECK(out.hand_over(true) == 1u);
  out.close();
  CHECK(out.error_of(metrics) == "cannot write /nonexistent/m.prom: test");
  CHECK(out.progress().error.empty());
  CHECK(slurp(results) == "record\n");
  std::remove(results.c_str());
}
