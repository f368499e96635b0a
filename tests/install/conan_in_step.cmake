# ctest packaging/conan_in_step: conan/conanfile.py requires every package the CMake build
# finds, at the version the build asks for and (on Debian) the version Debian ships.
#   cmake -DSOURCE_DIR=... -P conan_in_step.cmake
file(READ ${SOURCE_DIR}/conan/conanfile.py conanfile)
set(cmake_text "")
foreach(list_file CMakeLists.txt tests/CMakeLists.txt src/CMakeLists.txt)
  file(READ ${SOURCE_DIR}/${list_file} text)
  string(APPEND cmake_text "${text}\n")
endforeach()

# find_package name -> Conan package (empty: part of the system) and Debian -dev package.
set(conan_Boost boost)
set(debian_Boost libboost1.81-dev)
set(conan_OpenSSL openssl)
set(debian_OpenSSL libssl-dev)
set(conan_simdjson simdjson)
set(debian_simdjson libsimdjson-dev)
set(conan_CLI11 cli11)
set(debian_CLI11 libcli11-dev)
set(conan_doctest doctest)
set(debian_doctest doctest-dev)
set(conan_liburing liburing)
set(debian_liburing liburing-dev)
set(conan_Threads "")

find_program(DPKG_QUERY dpkg-query)
string(REGEX MATCHALL "find_package\\(([A-Za-z0-9_]+)[^)]*\\)" calls "${cmake_text}")
set(failures "")
foreach(call IN LISTS calls)
  string(REGEX REPLACE "find_package\\(([A-Za-z0-9_]+).*" "\\1" name "${call}")
  if(NOT DEFINED conan_${name})
    string(APPEND failures "find_package(${name}) has no Conan counterpart: add it to "
                           "conan/conanfile.py and to tests/install/conan_in_step.cmake\n")
    continue()
  endif()
  set(package "${conan_${name}}")
  if(package STREQUAL "")
    continue()
  endif()
  if(NOT conanfile MATCHES "requires\\(\"${package}/([^\"]+)\"\\)")
    string(APPEND failures "conan/conanfile.py does not require ${package} (find_package(${name}))\n")
    continue()
  endif()
  set(conan_version "${CMAKE_MATCH_1}")
  # A version asked for by find_package must be the one Conan provides.
  if(call MATCHES "find_package\\([A-Za-z0-9_]+ +([0-9][0-9.]*)" AND
     NOT conan_version STREQUAL CMAKE_MATCH_1)
    string(APPEND failures "${call} but Conan has ${package}/${conan_version}\n")
  endif()
  if(DPKG_QUERY)
    execute_process(COMMAND ${DPKG_QUERY} -W -f=\${Version} ${debian_${name}}
                    OUTPUT_VARIABLE debian_version RESULT_VARIABLE status ERROR_QUIET)
    if(status EQUAL 0 AND debian_version)
      # 1.81.0-5+deb12u1 -> 1.81.0; 2.4.9~ds-1 -> 2.4.9; 3.0.19-1~deb12u2 -> 3.0.19
      string(REGEX REPLACE "^[0-9]+:" "" upstream "${debian_version}")
      string(REGEX REPLACE "[-~+].*" "" upstream "${upstream}")
      string(REGEX MATCH "^[0-9]+\\.[0-9]+" major_minor "${upstream}")
      if(conan_version MATCHES "^\\[")
        # A range (openssl): it must hold Debian's major.minor.
        if(NOT conan_version MATCHES ">=${major_minor}")
          string(APPEND failures "${package} range ${conan_version} does not start at "
                                 "Debian's ${upstream}\n")
        endif()
      elseif(NOT conan_version STREQUAL upstream)
        string(APPEND failures "${package}/${conan_version} but Debian 12 ships ${upstream} "
                               "(${debian_${name}})\n")
      endif()
    endif()
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "conan/conanfile.py is out of step with the CMake build:\n${failures}")
endif()
message(STATUS "conan/conanfile.py in step with ${calls}")
