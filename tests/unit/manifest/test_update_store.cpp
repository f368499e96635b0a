#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/manifest/update_store.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

using namespace jobpatch;

namespace {

std::string job_name(std::size_t i) { return "job-" + std::to_string(i); }

// An index entry per update, and the bytes of the texts themselves, whatever the chunking
// wastes at most: the last chunk's unused tail and the block of the last index entries.
std::size_t store_bound(std::size_t updates, std::size_t text_bytes) {
  return updates * 24 + text_bytes + update_store::chunk_bytes +
         update_store::entries_per_block * 24 + 4096;
}

} // namespace

TEST_CASE("update_store: empty") {
  update_store store;
  CHECK(store.empty());
  CHECK(store.size() == 0);
  CHECK(store.bytes_held() == 0);
}

TEST_CASE("update_store: every op kind reads back as added, with ids of any bytes") {
  struct sample {
    std::string id;
    op_kind op;
    std::string body;
  };
  std::vector<sample> added = {
      {"job-1", op_kind::datasource,
       R"({"dataSource":{"dataSourceDescriptor":"url","params":{"url":"https://x"}}})"},
      {"f3b2c7de-61aa-4c1e-9f0a-0123456789ab", op_kind::params, R"({"params":{"n":1}})"},
      {"job/with space?&#%", op_kind::jobname, R"({"name":"\u00e9t\u00e9 \"quoted\""})"},
      {"\xc3\xa9t\xc3\xa9", op_kind::configs, R"({"taskTimeout":600})"},
      {std::string(1024, 'j'), op_kind::configs, R"({"jobTimeout":7200})"},
      {"e", op_kind::params, ""}, // an empty text is kept as empty
  };
  update_store store;
  for (const auto& s : added) store.add(update_view(s.id, s.op, s.body));
  REQUIRE(store.size() == added.size());
  CHECK_FALSE(store.empty());
  for (std::size_t i = 0; i < added.size(); ++i) {
    update_view v = store[i];
    CHECK(v.job_id == added[i].id);
    CHECK(v.op == added[i].op);
    CHECK(v.body == added[i].body);
    CHECK(store[i].op == added[i].op);
  }
}

TEST_CASE("update_store: an operation is added through its view, the copy owns its text") {
  update_store store;
  {
    operation op;
    op.job_id = "job-7";
    op.op = op_kind::jobname;
    op.body = R"({"name":"seven"})";
    store.add(op);
    op.job_id.assign(40, 'x'); // the caller's strings are reused, as the loader does
    op.body.assign(40, 'y');
  }
  CHECK(store[0].job_id == "job-7");
  CHECK(store[0].op == op_kind::jobname);
  CHECK(store[0].body == R"({"name":"seven"})");
}

TEST_CASE("update_store: consecutive equal bodies are stored once, others each time") {
  update_store store;
  std::string body = R"({"taskTimeout":600,"jobTimeout":7200,"isTestJob":false})";
  store.add(update_view("a", op_kind::configs, body));
  store.add(update_view("b", op_kind::configs, std::string(body))); // equal text, other storage
  store.add(update_view("c", op_kind::configs, R"({"taskTimeout":1})"));
  store.add(update_view("d", op_kind::configs, body));
  CHECK(store[0].body.data() == store[1].body.data());
  CHECK(store[1].body.data() != store[2].body.data());
  CHECK(store[3].body.data() != store[0].body.data()); // not consecutive: a copy
  CHECK(store[3].body == body);
  // Same body, different op: the text is still shared, the kinds are kept apart.
  store.add(update_view("e", op_kind::params, body));
  CHECK(store[4].op == op_kind::params);
  CHECK(store[4].body.data() == store[3].body.data());
}

TEST_CASE("update_store: long bodies, alone in their chunk or straddling none") {
  update_store store;
  std::vector<std::string> bodies;
  // Around the own-chunk threshold, over a whole chunk, and small ones between them, so
  // that a small text follows a long one in the shared chunk.
  for (std::size_t size :
       {update_store::chunk_bytes / 8, update_store::chunk_bytes / 8 + 1, std::size_t{10},
        update_store::chunk_bytes - 3, std::size_t{20}, 3 * update_store::chunk_bytes,
        std::size_t{30}, update_store::chunk_bytes / 2, update_store::chunk_bytes / 2}) {
    std::string body(size, ' ');
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    bodies.push_back(body);
    store.add(update_view(job_name(bodies.size()), op_kind::params, bodies.back()));
  }
  REQUIRE(store.size() == bodies.size());
  std::size_t text = 0;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    CHECK(store[i].job_id == job_name(i + 1));
    CHECK(store[i].body == bodies[i]);
    text += bodies[i].size() + store[i].job_id.size();
  }
  // Long texts take exact chunks; at most the tails of the shared chunks are unused.
  CHECK(store.bytes_held() <= text + 3 * update_store::chunk_bytes);
}

TEST_CASE("update_store: a job id longer than the index can say is refused") {
  update_store store;
  std::string id(70'000, 'j');
  CHECK_THROWS_AS(store.add(update_view(id, op_kind::configs, "{}")), std::length_error);
  CHECK(store.empty());
  store.add(update_view("job-1", op_kind::configs, "{}"));
  CHECK(store.size() == 1);
  CHECK(store[0].job_id == "job-1");
}

TEST_CASE("update_store: 300 k updates across many blocks and chunks, views stay put") {
  constexpr std::size_t n = 300'000;
  constexpr std::array kinds = {op_kind::datasource, op_kind::params, op_kind::jobname,
                                op_kind::configs};
  update_store store;
  store.add(update_view(job_name(0), kinds[0], R"({"i":0})"));
  update_view first = store[0];
  std::size_t text = first.job_id.size() + first.body.size();
  for (std::size_t i = 1; i < n; ++i) {
    std::string body = R"({"i":)" + std::to_string(i) + "}";
    std::string id = job_name(i);
    text += id.size() + body.size();
    store.add(update_view(id, kinds[i % kinds.size()], body));
  }
  REQUIRE(store.size() == n);
  // Nothing moved: the first view still points at the same bytes.
  CHECK(store[0].job_id.data() == first.job_id.data());
  CHECK(store[0].body.data() == first.body.data());
  std::size_t first_wrong = n; // one check, not 300 k
  for (std::size_t i = 0; i < n && first_wrong == n; ++i) {
    update_view v = store[i];
    if (v.job_id != job_name(i) || v.op != kinds[i % kinds.size()] ||
        v.body != R"({"i":)" + std::to_string(i) + "}" || store[i].op != v.op)
      first_wrong = i;
  }
  CHECK(first_wrong == n);
  CHECK(store.bytes_held() <= store_bound(n, text));
}

TEST_CASE("update_store: an --ids run keeps one body for all its jobs") {
  char path[] = "/tmp/update_store_ids_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::string ids;
  constexpr std::size_t n = 20'000;
  for (std::size_t i = 0; i < n; ++i) ids += job_name(i) + (i % 2 ? "\r\n" : "\n");
  ids += "job\"q\\\n"; // escaped into the line, read back unescaped
  REQUIRE(::write(fd, ids.data(), ids.size()) == static_cast<ssize_t>(ids.size()));
  ::close(fd);

  manifest_reader reader = manifest_reader::open(path);
  std::string body(2000, ' ');
  body.front() = '{';
  body.replace(1, 16, R"("taskTimeout":60)");
  body.back() = '}';
  reader.use_ids_template({"configs", body});
  line_source::options options;
  options.number_updates = false;
  line_source source(std::move(reader), options);
  update_store store;
  source_item item;
  std::size_t invalid = 0;
  while (source.next(item)) {
    if (item.valid)
      store.add(item.op);
    else
      ++invalid;
  }
  CHECK(invalid == 0);
  ::unlink(path);
  REQUIRE(store.size() == n + 1);
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, n / 2, n - 1}) {
    CHECK(store[i].job_id == job_name(i));
    CHECK(store[i].op == op_kind::configs);
    CHECK(store[i].body == body);
    CHECK(store[i].body.data() == store[0].body.data());
  }
  CHECK(store[n].job_id == "job\"q\\");
  std::size_t ids_bytes = n * job_name(n).size();
  // 2000-byte body once, not 20 001 times (that would be 40 MB).
  CHECK(store.bytes_held() <= store_bound(n + 1, ids_bytes + body.size()));
}
