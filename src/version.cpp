#include <jobpatch/version.hpp>

#include <simdjson.h>

#define JOBPATCH_STRINGIFY_(x) #x
#define JOBPATCH_STRINGIFY(x) JOBPATCH_STRINGIFY_(x)

namespace jobpatch {

std::string version_text() {
  // On Demand code is compiled for one kernel, chosen by -march in the translation units
  // that include simdjson.h (the macro below, not simdjson::builtin_implementation(),
  // which answers for the shared library's own flags). Print the CPU's best too, so a
  // portable build running on a better CPU is visible.
  std::string out = "jobpatch " JOBPATCH_VERSION
                    " (simdjson " JOBPATCH_STRINGIFY(SIMDJSON_VERSION) ", On Demand kernel: ";
  out += JOBPATCH_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
  out += ", best on this CPU: ";
  out += simdjson::get_active_implementation()->name();
  out += ")";
  return out;
}

} // namespace jobpatch
