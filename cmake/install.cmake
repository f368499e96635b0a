# Installation, man pages and the Debian package (CPack). Included once from the top
# CMakeLists.txt; kept apart so that build flags and install rules change independently.
#
#   cmake --install build [--prefix DIR]   programs, man pages, jobpatch_core + CMake config
#   scripts/package.sh                      the .deb files (cmake/package.cmake)
#
# Components: "runtime" (jobpatch, jobpatch-epoll, jobpatch-mock, man pages) becomes the
# `jobpatch` .deb; "development" (libjobpatch_core.a, include/jobpatch/, the CMake package)
# `jobpatch-dev`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS jobpatch jobpatch-mock RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT runtime)
# jobpatch-epoll beside jobpatch: what jobpatch becomes where the kernel refuses io_uring.
if(TARGET jobpatch-epoll)
  install(TARGETS jobpatch-epoll RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()

# jobpatch_core for C++ users: find_package(jobpatch) gives jobpatch::core. simdjson is a
# private dependency, but a static library carries it into the link of whoever uses it, so
# the package config finds it too.
set_target_properties(jobpatch_core PROPERTIES EXPORT_NAME core)
install(TARGETS jobpatch_core EXPORT jobpatch_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The public API, chosen: what a user reading and validating manifests needs. Each header
# compiles on its own against the installed tree, includes only the standard library and
# other public headers, and defines no detail:: template whose definition stays private.
# The rest of include/jobpatch/ is the project's internal interface between src/ folders
# (policy/job_scheduler.hpp, for one, pulls in Boost's flat map and declares a template
# defined in src/). tests/install/install_test.cmake checks this exact list.
set(JOBPATCH_PUBLIC_HEADERS
    version.hpp
    manifest/operation.hpp
    manifest/body_validator.hpp
    manifest/line_validator.hpp
    manifest/manifest_reader.hpp)
foreach(header IN LISTS JOBPATCH_PUBLIC_HEADERS)
  get_filename_component(header_dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/include/jobpatch/${header}
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/jobpatch/${header_dir} COMPONENT development)
endforeach()
set(JOBPATCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/jobpatch)
install(EXPORT jobpatch_targets NAMESPACE jobpatch:: FILE jobpatchTargets.cmake
        DESTINATION ${JOBPATCH_CMAKE_DIR} COMPONENT development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/jobpatchConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/jobpatchConfig.cmake
                              INSTALL_DESTINATION ${JOBPATCH_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/jobpatchConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/jobpatchConfig.cmake
              ${PROJECT_BINARY_DIR}/jobpatchConfigVersion.cmake
        DESTINATION ${JOBPATCH_CMAKE_DIR} COMPONENT development)

# Man pages, generated from the programs' own --help at build time (never committed), so
# they cannot drift from the options. help2man is a Debian package (scripts/install-deps.sh).
# Not in sanitizer builds: their programs' diagnostics would end up in the pages.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM AND NOT JOBPATCH_ANY_SANITIZER)
  set(man_dir ${PROJECT_BINARY_DIR}/man)
  set(man_pages)
  # One page per program or subcommand: page name, program target, help option, NAME line.
  set(man_specs
      "jobpatch|jobpatch|--help|apply bulk updates to ByteNite jobs from an NDJSON manifest"
      "jobpatch-validate|jobpatch|validate --help|check a jobpatch manifest without sending anything"
      "jobpatch-apply|jobpatch|apply --help|apply a manifest's updates to ByteNite jobs"
      "jobpatch-plan|jobpatch|plan --help|show what a manifest would change in each ByteNite job, field by field"
      "jobpatch-bench|jobpatch|bench --help|open-loop benchmark of the ByteNite job PATCH endpoints"
      "jobpatch-merge|jobpatch|merge --help|combine the results and summaries of a sharded jobpatch run"
      "jobpatch-control|jobpatch|control --help|pause, resume or retune a running jobpatch apply --control"
      "jobpatch-mock|jobpatch-mock|--help|a ByteNite-compatible API server for tests and benchmarks")
  foreach(spec IN LISTS man_specs)
    string(REPLACE "|" ";" fields "${spec}")
    list(GET fields 0 page)
    list(GET fields 1 program)
    list(GET fields 2 help_option)
    list(GET fields 3 description)
    # jobpatch's pages share its exit codes and environment (cmake/jobpatch.h2m).
    set(include_option "")
    if(program STREQUAL "jobpatch")
      set(include_option --include=${CMAKE_CURRENT_LIST_DIR}/jobpatch.h2m)
    endif()
    # --version-string: `jobpatch --version` also names the build machine's best JSON
    # kernel, which has no place in a page that must be the same wherever it is built.
    add_custom_command(
      OUTPUT ${man_dir}/${page}.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
      COMMAND ${HELP2MAN_PROGRAM} --no-info --no-discard-stderr --section=1
              "--version-string=${page} (jobpatch) ${PROJECT_VERSION}"
              "--help-option=${help_option}" "--name=${description}"
              ${include_option} --output=${man_dir}/${page}.1
              $<TARGET_FILE:${program}>
      # Compressed, as Debian ships man pages; -n: no time stamp, the same bytes each build.
      COMMAND gzip -9nf ${man_dir}/${page}.1
      DEPENDS ${program} ${CMAKE_CURRENT_LIST_DIR}/jobpatch.h2m
      COMMENT "Generating man page ${page}.1"
      VERBATIM)
    list(APPEND man_pages ${man_dir}/${page}.1.gz)
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
elseif(NOT JOBPATCH_ANY_SANITIZER)
  message(WARNING "help2man not found: no man pages (scripts/install-deps.sh installs it)")
endif()

# ctest: install into a temporary prefix, then configure, build and run a consumer
# project (tests/install_consumer) against it. Labels "integration" and "install" (a few
# seconds). Only where the man pages are built (not in sanitizer builds: the plain suite
# covers installing).
if(JOBPATCH_BUILD_TESTS AND TARGET man_pages)
  add_test(NAME install/consumer
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                   -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
                   -DWORK_DIR=${PROJECT_BINARY_DIR}/install-test
                   -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
                   "-DGENERATOR=${CMAKE_GENERATOR}" -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
                   -P ${PROJECT_SOURCE_DIR}/tests/install/install_test.cmake)
  set_tests_properties(install/consumer PROPERTIES LABELS "integration;install" TIMEOUT 300)
endif()
if(JOBPATCH_BUILD_TESTS)
  add_test(NAME install/conan_in_step
           COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
                   -P ${PROJECT_SOURCE_DIR}/tests/install/conan_in_step.cmake)
  set_tests_properties(install/conan_in_step PROPERTIES LABELS "integration;install")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
