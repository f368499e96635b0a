// line_source's own words about a line: an input that is not NDJSON at all, named on its
// first line, and the limit of an oversized line.

#include <jobpatch/manifest/line_source.hpp>

#include "unit/temp_files.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace jobpatch;
using namespace jobpatch::test;

namespace {

// The invalid lines of `content` read as a manifest (or as an --ids list).
std::vector<invalid_line> invalid_lines(const std::string& content, bool ids = false,
                                        std::size_t max_line_bytes = 1 << 20) {
  std::string path = temp_file(content, "line-source");
  manifest_reader reader = manifest_reader::open(path, max_line_bytes);
  if (ids) reader.use_ids_template({"jobname", "\"a\""});
  line_source::options options;
  options.max_line_bytes = max_line_bytes;
  line_source source(std::move(reader), options);
  std::vector<invalid_line> out;
  source_item item;
  while (source.next(item))
    if (!item.valid) out.push_back(item.error);
  std::remove(path.c_str());
  return out;
}

} // namespace

TEST_CASE("input_format_hint: compressed files by their magic numbers, with what reads them") {
  using namespace std::string_literals;
  CHECK(input_format_hint("\x1f\x8b\x08\x00rest", false) ==
        "the manifest looks gzip-compressed: decompress it first, e.g. zcat FILE | "
        "jobpatch apply -");
  CHECK(input_format_hint("\x28\xb5\x2f\xfd\x04", false)
            .starts_with(
                "the manifest looks zstd-compressed: decompress it first, e.g. zstdcat FILE |"));
  CHECK(
      input_format_hint("\xfd"
                        "7zXZ\0\0\x04"s,
                        false)
          .starts_with("the manifest looks xz-compressed: decompress it first, e.g. xzcat FILE |"));
  CHECK(input_format_hint("BZh91AY&SY", false)
            .starts_with(
                "the manifest looks bzip2-compressed: decompress it first, e.g. bzcat FILE |"));
  CHECK(input_format_hint("PK\x03\x04\x14\x00", false) ==
        "the manifest looks like a zip archive: extract it first, e.g. unzip -p FILE | "
        "jobpatch apply -");
  CHECK(input_format_hint("\x1f\x8b\x08", true) ==
        "the --ids list looks gzip-compressed: decompress it first, e.g. zcat FILE | "
        "jobpatch apply --ids - ...");
  // Short of a whole magic number, or text that starts alike: not named.
  CHECK(input_format_hint("\xfd"
                          "7zX",
                          false)
            .empty());
  CHECK(input_format_hint("BZh", false).empty());
  CHECK(input_format_hint("BZhx is a word", false).empty());
}

TEST_CASE("input_format_hint: UTF-16 text and binary data named, text left to the line's error") {
  using namespace std::string_literals;
  std::string utf16 = "the manifest looks UTF-16 encoded: convert it to UTF-8 first, e.g. iconv "
                      "-f UTF-16 -t UTF-8 FILE | jobpatch apply -";
  CHECK(input_format_hint("\xff\xfe{\0\"\0"s, false) == utf16);
  CHECK(input_format_hint("\xfe\xff\0{\0\""s, false) == utf16);
  CHECK(input_format_hint("{\0\"\0j\0"s, false) == utf16); // little-endian, no BOM
  CHECK(input_format_hint("\0{\0\"\0j"s, false) == utf16); // big-endian, no BOM
  std::string binary = "the manifest looks binary, not text (one JSON object per line): is it "
                       "the file you meant?";
  CHECK(input_format_hint("\x7f"
                          "ELF\x02\x01\x01\0\0\0"s,
                          false) == binary);                     // a NUL byte
  CHECK(input_format_hint("\x01\x02\x03 abc", false) == binary); // control bytes, many
  CHECK(input_format_hint("\x01\x02\x03", true).find("(one job id per line)") != std::string::npos);
  // Text, however wrong as NDJSON: Latin-1, a stray control byte, ANSI colours, a CSV.
  CHECK(input_format_hint("{\"jobId\":\"caf\xe9\"}\n", false).empty());
  CHECK(
      input_format_hint("{\"jobId\":\"a\x01\",\"op\":\"jobname\",\"body\":\"b\"}", false).empty());
  CHECK(input_format_hint("\x1b[31mjob-1\x1b[0m,jobname,b\n", false).empty());
  CHECK(input_format_hint("jobId,op,body\r\njob-1,jobname,b\r\n", false).empty());
  CHECK(input_format_hint("", false).empty());
}

TEST_CASE("line_source: a compressed manifest is named on its first line, only there") {
  using namespace std::string_literals;
  auto bad = invalid_lines("\x1f\x8b\x08\x00\xff\xfe\n\x01\x02\x03\n\x1f\x8b again\n"s);
  REQUIRE(bad.size() == 3);
  CHECK(bad[0].line == 1);
  CHECK(bad[0].not_ndjson);
  CHECK(bad[0].message.ends_with("; the manifest looks gzip-compressed: decompress it first, "
                                 "e.g. zcat FILE | jobpatch apply -"));
  CHECK(bad[0].message.starts_with("invalid UTF-8")); // the line's own error comes first
  for (std::size_t i = 1; i < bad.size(); ++i) {
    CHECK_FALSE(bad[i].not_ndjson);
    CHECK(bad[i].message.find("gzip") == std::string::npos);
  }
  // Its first line over the limit: named too.
  bad = invalid_lines("\x1f\x8b" + std::string(200, 'x') + "\n", false, 100);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].not_ndjson);
  CHECK(bad[0].message.find("gzip-compressed") != std::string::npos);
  // An --ids list.
  bad = invalid_lines("\x1f\x8b\x08\x00\xff\n"s, true);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].message.find("the --ids list looks gzip-compressed") != std::string::npos);
}

TEST_CASE("line_source: a text manifest's bad lines carry no format hint") {
  auto bad = invalid_lines("{\"jobId\":\"a\"}\n\x1f\x8b later\n");
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].message == "missing key \"op\"");
  CHECK_FALSE(bad[0].not_ndjson);
  CHECK_FALSE(bad[1].not_ndjson); // magic numbers count at the start of the input only
  CHECK(bad[1].message.find("gzip") == std::string::npos);
}

TEST_CASE("line_source: an oversized line's error names --max-line-bytes") {
  auto bad = invalid_lines("{\"jobId\":\"a\",\"op\":\"jobname\",\"body\":\"b\"}\n" +
                               std::string(150, 'x') + "\n",
                           false, 100);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].line == 2);
  CHECK(bad[0].message == "line is 150 bytes, over the limit of 100 (--max-line-bytes raises it)");
  CHECK_FALSE(bad[0].not_ndjson);
}
