// libFuzzer glue: one executable per entry, chosen by JOBPATCH_FUZZ_ENTRY at compile time.
#include "fuzz_entries.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return jobpatch::fuzz::JOBPATCH_FUZZ_ENTRY(data, size);
}
