#include <jobpatch/text/edit_distance.hpp>

#include <doctest/doctest.h>

#include <string>

using jobpatch::edit_distance;

TEST_CASE("edit_distance: insertions, deletions and substitutions each count one") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("configs", "configs") == 0);
  CHECK(edit_distance("config", "configs") == 1);
  CHECK(edit_distance("taskTimout", "taskTimeout") == 1);
  CHECK(edit_distance("--conections", "--connections") == 1);
  CHECK(edit_distance("jobnmae", "jobname") == 2);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("edit_distance: names beyond the limit are never near misses") {
  std::string long_name(jobpatch::max_edit_distance_length + 1, 'a');
  CHECK(edit_distance(long_name, long_name + "b") > 2);
  CHECK(edit_distance(long_name, "a") > 2);
}
