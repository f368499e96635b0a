# The Debian packages (CPack DEB generator), from the install components of
# cmake/install.cmake; scripts/package.sh builds them for the package CPU baseline.
# Dependencies come from dpkg-shlibdeps over the installed programs,
# so they name exactly the runtime libraries linked (libssl3, libsimdjson14,
# libboost-json1.81.0, libboost-url1.81.0, libc6, libstdc++6, libgcc-s1), never -dev ones.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME jobpatch)
set(CPACK_PACKAGE_VENDOR "jobpatch")
set(CPACK_PACKAGE_CONTACT "jobpatch maintainers <jobpatch@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "apply bulk updates to ByteNite jobs from an NDJSON manifest")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/jobpatch")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME jobpatch)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# The system trust store that verifies the API's certificate, as libcurl4 does it.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "apply bulk updates to ByteNite jobs from an NDJSON manifest\n"
    "jobpatch validates an NDJSON manifest of job updates and applies it over persistent\n"
    "HTTPS connections with rate limiting, retries and a record of every line's outcome.\n"
    "It runs on io_uring; jobpatch-epoll, the same program on epoll, takes over where\n"
    "the kernel refuses io_uring. Also ships jobpatch-mock, a compatible API server for\n"
    "tests and rehearsals.")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME jobpatch-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# The static library's users compile against these headers and link these libraries.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
    "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libsimdjson-dev")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "jobpatch core library (manifest reading and validation) for C++\n"
    "The static library jobpatch_core, its public headers and a CMake package:\n"
    "find_package(jobpatch) gives the target jobpatch::core.")
include(CPack)
