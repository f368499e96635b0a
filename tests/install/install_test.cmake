# ctest install/consumer: `cmake --install` the build into a fresh prefix, check what is
# there, then configure, build and run tests/install_consumer against that prefix alone.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX_COMPILER=... \
#         -DGENERATOR=... -DMAKE_PROGRAM=... -P install_test.cmake
# The consumer is configured with the parent build's generator and make program: CMake's
# default generator needs make, which a fresh machine lacks (scripts/install-deps.sh
# installs ninja-build only).
cmake_policy(SET CMP0057 NEW) # if(... IN_LIST ...)
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The public headers, exactly (cmake/install.cmake says why these).
set(public_headers
    jobpatch/manifest/body_validator.hpp
    jobpatch/manifest/line_validator.hpp
    jobpatch/manifest/manifest_reader.hpp
    jobpatch/manifest/operation.hpp
    jobpatch/version.hpp)

set(expected
    bin/jobpatch bin/jobpatch-mock
    share/man/man1/jobpatch.1.gz share/man/man1/jobpatch-validate.1.gz
    share/man/man1/jobpatch-apply.1.gz share/man/man1/jobpatch-bench.1.gz
    share/man/man1/jobpatch-merge.1.gz share/man/man1/jobpatch-control.1.gz
    share/man/man1/jobpatch-plan.1.gz
    share/man/man1/jobpatch-mock.1.gz
    lib/libjobpatch_core.a include/jobpatch/version.hpp
    include/jobpatch/manifest/line_validator.hpp
    lib/cmake/jobpatch/jobpatchConfig.cmake lib/cmake/jobpatch/jobpatchConfigVersion.cmake
    lib/cmake/jobpatch/jobpatchTargets.cmake)
foreach(file IN LISTS expected)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()

# Exactly the public headers are installed, each a copy of include/jobpatch/ (nothing
# from src/ leaks out), including only the standard library and other installed headers
# (no Boost, no simdjson), and with no detail:: namespace (a template there whose
# definition is private would not link, and could not be kept stable).
file(GLOB_RECURSE installed RELATIVE ${prefix}/include ${prefix}/include/*)
list(SORT installed)
if(NOT installed STREQUAL public_headers)
  message(FATAL_ERROR "installed headers:\n  ${installed}\nexpected:\n  ${public_headers}")
endif()
foreach(header IN LISTS installed)
  file(READ ${prefix}/include/${header} text)
  file(READ ${SOURCE_DIR}/include/${header} source_text)
  if(NOT text STREQUAL source_text)
    message(FATAL_ERROR "${header} is not a copy of include/${header}")
  endif()
  string(REGEX MATCHALL "#include <[^>]+>" includes "${text}")
  foreach(include IN LISTS includes)
    string(REGEX REPLACE "#include <([^>]+)>" "\\1" included "${include}")
    # A standard header (<string>, <cstdint>: no directory, no extension) or a public one.
    if(NOT included MATCHES "^[a-z_]+$" AND NOT included IN_LIST public_headers)
      message(FATAL_ERROR "${header} includes <${included}>: neither standard nor public")
    endif()
  endforeach()
  if(text MATCHES "detail")
    message(FATAL_ERROR "${header} names a detail namespace")
  endif()
endforeach()

# The man pages come from the real help text (an option of each subcommand).
run(gzip -dc ${prefix}/share/man/man1/jobpatch-apply.1.gz)
set(page "${run_output}")
if(NOT page MATCHES "connections" OR NOT page MATCHES "EXIT STATUS")
  message(FATAL_ERROR "jobpatch-apply.1 lacks the apply options or the exit codes")
endif()

run(${prefix}/bin/jobpatch --version)
if(NOT run_output MATCHES "^jobpatch [0-9]")
  message(FATAL_ERROR "installed jobpatch --version printed: ${run_output}")
endif()

set(consumer_build ${WORK_DIR}/consumer-build)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${consumer_build}
    -G "${GENERATOR}" -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${consumer_build})
# A manifest with a BOM, a blank line, a valid and an invalid line, and a last line
# without a line end.
set(manifest ${WORK_DIR}/manifest.ndjson)
string(ASCII 239 187 191 bom)
file(WRITE ${manifest}
     "${bom}{\"jobId\":\"job-1\",\"op\":\"jobname\",\"body\":\"nightly\"}\n"
     "\n"
     "{\"jobId\":\"job-2\",\"op\":\"configs\",\"body\":{\"taskTimeout\":\"abc\"}}\r\n"
     "{\"jobId\":\"job-3\",\"op\":\"jobname\",\"body\":\"last\"}")
run(${consumer_build}/consumer ${manifest})
if(NOT run_output MATCHES "line 1: valid job job-1" OR
   NOT run_output MATCHES "line 3: invalid job job-2: configs.taskTimeout" OR
   NOT run_output MATCHES "line 4: valid job job-3" OR
   NOT run_output MATCHES "3 lines, 2 valid")
  message(FATAL_ERROR "consumer printed:\n${run_output}")
endif()
message(STATUS "consumer against the installed tree:\n${run_output}")
file(REMOVE_RECURSE ${WORK_DIR})
