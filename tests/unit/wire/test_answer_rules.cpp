#include <jobpatch/wire/answer_rules.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {

constexpr answer_limits limits{}; // 64 KiB per framing part, a 2 MiB body
constexpr std::size_t limit = std::size_t{64} << 10;

std::string too_large(answer_part part) {
  std::string out;
  append_too_large(out, part, limits);
  return out;
}

} // namespace

TEST_CASE("answer budget: the status line and headers count together, up to 64 KiB") {
  answer_budget budget(limits);
  CHECK(budget.over("", false) == answer_part::none);
  CHECK(budget.room(0, false) == limit);
  // Beast takes the status line before the header fields are complete: it still counts.
  budget.took(40'000, false);
  std::string fields(20'000, 'a');
  CHECK(budget.over(fields, false) == answer_part::none);
  CHECK(budget.room(fields.size(), false) == limit - 60'000);
  fields.resize(limit - 40'000 - 1);
  CHECK(budget.over(fields, false) == answer_part::none);
  CHECK(budget.room(fields.size(), false) == 1);
  fields += 'a';
  CHECK(budget.over(fields, false) == answer_part::head);
  CHECK(budget.room(fields.size(), false) == 0);
  // Once the header is complete its bytes no longer count.
  CHECK(budget.over("", true) == answer_part::none);
  CHECK(budget.room(0, true) == limit);
}

TEST_CASE("answer budget: a chunk-size line with its extensions is bounded on its own") {
  answer_budget budget(limits);
  budget.took(60'000, false); // a large header, complete
  budget.took(1'000, true);   // the first chunks, taken
  std::string line = "1;x=" + std::string(limit - 5, 'a');
  CHECK(budget.over(line, true) == answer_part::none);
  CHECK(budget.room(line.size(), true) == 1);
  line += 'a';
  CHECK(budget.over(line, true) == answer_part::chunk_line);
  // The CRLF after the previous chunk's data is left in front of the next line.
  CHECK(budget.over("\r\n" + line, true) == answer_part::chunk_line);
  // Sizes that begin with 0 but are not 0 are chunk lines, as is a last-chunk line whose
  // extension never ends.
  CHECK(budget.over("0a;" + line, true) == answer_part::chunk_line);
  CHECK(budget.over("0;" + line, true) == answer_part::chunk_line);
  CHECK(budget.over("000" + std::string(limit, 'a'), true) == answer_part::chunk_line);
}

TEST_CASE("answer budget: the last chunk and its trailer section are bounded together") {
  answer_budget budget(limits);
  std::string trailer = "0\r\n";
  while (trailer.size() < limit) trailer += "X-Trailer: " + std::string(1000, 'a') + "\r\n";
  CHECK(budget.over(trailer, true) == answer_part::trailer);
  CHECK(budget.over("\r\n" + trailer, true) == answer_part::trailer);
  CHECK(budget.over("000;ext=1\r\n" + trailer.substr(3), true) == answer_part::trailer);
  CHECK(budget.over(trailer.substr(0, limit - 1), true) == answer_part::none);
}

TEST_CASE("answer budget: what was too large, in words") {
  CHECK(too_large(answer_part::head) == "status line and headers over 64 KiB");
  CHECK(too_large(answer_part::chunk_line) == "a chunk-size line with its extensions over 64 KiB");
  CHECK(too_large(answer_part::trailer) == "the trailer section over 64 KiB");
  CHECK(too_large(answer_part::body) == "body over 2 MiB");
  std::string odd;
  append_too_large(odd, answer_part::body, {1000, 1000});
  CHECK(odd == "body over 1000 bytes");
}

TEST_CASE("status line: only a final HTTP/1.x answer answers the request") {
  CHECK(judge_status_line(200, 11) == status_line::final);
  CHECK(judge_status_line(204, 11) == status_line::final);
  CHECK(judge_status_line(503, 11) == status_line::final);
  CHECK(judge_status_line(599, 11) == status_line::final);
  CHECK(judge_status_line(200, 19) == status_line::final); // a later 1.x reads as 1.1
  CHECK(judge_status_line(200, 10) == status_line::final_then_close);
  CHECK(judge_status_line(100, 11) == status_line::interim);
  CHECK(judge_status_line(103, 11) == status_line::interim);
  CHECK(judge_status_line(199, 11) == status_line::interim);
  // 101: the connection now speaks another protocol; never reused.
  CHECK(judge_status_line(101, 11) == status_line::unusable);
  CHECK(judge_status_line(101, 10) == status_line::unusable);
  CHECK(judge_status_line(0, 11) == status_line::unusable);
  CHECK(judge_status_line(99, 11) == status_line::unusable);
  CHECK(judge_status_line(600, 11) == status_line::unusable);
  CHECK(judge_status_line(999, 11) == status_line::unusable);
  CHECK(judge_status_line(200, 20) == status_line::unusable);
  CHECK(judge_status_line(200, 9) == status_line::unusable);
}

TEST_CASE("status line: why an unusable one is no answer") {
  std::string out;
  append_unusable_status(out, 101, 11);
  CHECK(out == "HTTP 101 Switching Protocols where a final answer was expected: the connection "
               "now speaks another protocol");
  out.clear();
  append_unusable_status(out, 700, 11);
  CHECK(out == "HTTP 700 is not a status (100-599)");
  out.clear();
  append_unusable_status(out, 200, 20);
  CHECK(out == "HTTP/2.0 is not HTTP/1.1");
}
