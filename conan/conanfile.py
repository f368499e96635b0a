# Conan 2 recipe for building jobpatch off Debian, with the same CMakeLists.txt:
#   conan install conan --output-folder=build-conan --build=missing -pr:b=default -pr:h=conan/profiles/linux-gcc12
#   cmake -S . -B build-conan -DCMAKE_TOOLCHAIN_FILE=build-conan/conan_toolchain.cmake -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-conan
# Versions match what Debian 12 ships and what CI builds against.
from conan import ConanFile
from conan.tools.cmake import CMakeDeps, CMakeToolchain, cmake_layout


class JobpatchConan(ConanFile):
    name = "jobpatch"
    version = "0.1.0"
    settings = "os", "arch", "compiler", "build_type"

    def requirements(self):
        self.requires("boost/1.81.0")
        self.requires("openssl/[>=3.0 <4]")
        self.requires("simdjson/3.0.1")
        self.requires("cli11/2.1.2")
        self.requires("doctest/2.4.9")

    def configure(self):
        # Asio, Beast and URL are header-only or built from Boost's own sources; only
        # JSON and URL need compiled libraries.
        self.options["boost"].header_only = False
        for lib in ("json", "url", "system", "container"):
            setattr(self.options["boost"], f"without_{lib}", False)

    def layout(self):
        cmake_layout(self, src_folder="..")

    def generate(self):
        CMakeDeps(self).generate()
        CMakeToolchain(self).generate()
