# ctest install/consumer: `cmake --install` the build into a fresh prefix, check what is
# there, then configure, build and run tests/install_consumer against that prefix alone.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX_COMPILER=... \
#         -DGENERATOR=... -DMAKE_PROGRAM=... -P install_test.cmake
# The consumer is configured with the parent build's generator and make program: CMake's
# default generator needs make, which a fresh machine lacks (scripts/install-deps.sh
# installs ninja-build only).
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

set(expected
    bin/jobpatch bin/jobpatch-mock
    share/man/man1/jobpatch.1.gz share/man/man1/jobpatch-validate.1.gz
    share/man/man1/jobpatch-apply.1.gz share/man/man1/jobpatch-bench.1.gz
    share/man/man1/jobpatch-merge.1.gz
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

# Every installed header is a copy of include/jobpatch/: nothing from src/ leaks out.
file(GLOB_RECURSE installed RELATIVE ${prefix}/include ${prefix}/include/*)
file(GLOB_RECURSE public RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/jobpatch/*.hpp)
list(SORT installed)
list(SORT public)
if(NOT installed STREQUAL public)
  message(FATAL_ERROR "installed headers differ from include/jobpatch:\n${installed}\n${public}")
endif()

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
run(${consumer_build}/consumer)
if(NOT run_output MATCHES "line 1: valid job job-1" OR
   NOT run_output MATCHES "line 2: invalid: configs.taskTimeout")
  message(FATAL_ERROR "consumer printed:\n${run_output}")
endif()
message(STATUS "consumer against the installed tree:\n${run_output}")
file(REMOVE_RECURSE ${WORK_DIR})
