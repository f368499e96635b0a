#include "net/slot_table.hpp"

#include <doctest/doctest.h>

using jobpatch::net::slot;
using jobpatch::net::slot_table;

TEST_CASE("slot_table: a released slot is reused, its storage kept") {
  slot_table table;
  auto a = table.acquire();
  auto b = table.acquire();
  CHECK(a != b);
  CHECK(table[a].in_use);
  table[a].raw_line.assign(200, 'x');
  const char* storage = table[a].raw_line.data();
  table[a].raw_line.clear();
  table.release(a);
  CHECK_FALSE(table[a].in_use);
  auto c = table.acquire();
  CHECK(c == a); // the handle comes back: handles stay dense
  CHECK(table[c].in_use);
  table[c].raw_line.assign(100, 'y');
  CHECK(table[c].raw_line.data() == storage); // no new allocation
  CHECK(table.size() == 2);
}

TEST_CASE("slot_table: a slot does not move while the table grows") {
  slot_table table;
  auto first = table.acquire();
  slot* held = &table[first]; // as a worker holds its slot across a co_await
  for (int i = 0; i < 10'000; ++i) table.acquire();
  CHECK(&table[first] == held);
  CHECK(table.size() == 10'001);
}
