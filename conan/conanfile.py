# Conan 2 recipe for building jobpatch off Debian, with the same CMakeLists.txt:
#   conan install conan --output-folder=build-conan --build=missing -pr:b=default -pr:h=conan/profiles/linux-gcc12
#   cmake -S . -B build-conan -DCMAKE_TOOLCHAIN_FILE=build-conan/conan_toolchain.cmake -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-conan
#
# One requirement per find_package() of the CMake build, at the version Debian 12 ships
# (what scripts/install-deps.sh installs and CI builds against); ctest
# packaging/conan_in_step checks both against this file:
#   find_package(Boost 1.81.0 COMPONENTS json url)  boost/1.81.0        libboost1.81-dev 1.81.0
#       (Asio, Beast: header-only; OpenSSL for Asio's SSL)
#   find_package(OpenSSL)                           openssl 3.0.x       libssl-dev 3.0
#   find_package(simdjson)                          simdjson/3.0.1      libsimdjson-dev 3.0.1
#   find_package(CLI11)                             cli11/2.1.2         libcli11-dev 2.1.2
#   find_package(doctest)  (tests only)             doctest/2.4.9       doctest-dev 2.4.9
#   find_package(liburing) (JOBPATCH_IO_URING)      liburing/2.3        liburing-dev 2.3
#       (Debian's has no CMake config: the build then finds the header and library)
#   find_package(Threads)                           the C library
# Tools, not requirements: CMake >= 3.25, Ninja, and help2man for the man pages (optional:
# without it the build skips them with a warning).
from conan import ConanFile
from conan.tools.cmake import CMakeDeps, CMakeToolchain, cmake_layout


class JobpatchConan(ConanFile):
    name = "jobpatch"
    version = "0.1.0"
    settings = "os", "arch", "compiler", "build_type"

    def requirements(self):
        self.requires("boost/1.81.0")
        self.requires("openssl/[>=3.0.0 <3.1]")
        self.requires("simdjson/3.0.1")
        self.requires("cli11/2.1.2")
        self.requires("liburing/2.3")

    def build_requirements(self):
        self.test_requires("doctest/2.4.9")

    def configure(self):
        # Asio and Beast are header-only; JSON and URL are compiled libraries (JSON needs
        # Container and System).
        self.options["boost"].header_only = False
        for lib in ("json", "url", "system", "container"):
            setattr(self.options["boost"], f"without_{lib}", False)

    def layout(self):
        cmake_layout(self, src_folder="..")

    def generate(self):
        CMakeDeps(self).generate()
        CMakeToolchain(self).generate()
