// The API key of `apply` and `bench`: from a file or the environment, never from argv
// (it would show in `ps`).

#include "cli/commands.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch::cli {
namespace {
void trim(std::string& key) {
  while (!key.empty() &&
         (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
    key.pop_back();
}
} // namespace

std::string load_api_key(const std::string& key_file) {
  std::string key;
  if (!key_file.empty()) {
    auto fail = [&](const std::string& why) { refuse("--api-key-file " + key_file + ": " + why); };
    int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      fail("is a directory; name the file holding the key");
    }
    // World-readable only: a secret mounted 0440 for a group (kubelet, systemd
    // LoadCredential) is shared on purpose.
    if (st.st_mode & S_IROTH)
      std::fprintf(stderr,
                   "jobpatch: warning: %s is readable by other users (every user); chmod o-r it\n",
                   key_file.c_str());
    char block[4096];
    while (true) {
      ssize_t n = ::read(fd, block, sizeof block);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        ::close(fd);
        fail(std::string("cannot read: ") + std::strerror(e));
      }
      if (n == 0) break;
      key.append(block, static_cast<std::size_t>(n));
      if (key.size() > 65536) {
        ::close(fd);
        fail("is over 64 KiB: not an API key file");
      }
    }
    ::close(fd);
    trim(key);
    if (key.empty()) fail("is empty; it must hold the API key");
    return key;
  }
  if (const char* env = std::getenv("BYTENITE_API_KEY")) key = env;
  trim(key);
  return key;
}

void load_credentials(std::string& api_key, const std::string& key_file, bool insecure) {
  api_key = load_api_key(key_file);
  if (api_key.empty()) refuse("no API key: set BYTENITE_API_KEY or pass --api-key-file");
  if (insecure)
    std::fprintf(stderr, "jobpatch: WARNING: --insecure: TLS certificates are NOT verified; "
                         "use this against test servers only\n");
}

} // namespace jobpatch::cli

namespace jobpatch::cli {

void warn_if_key_in_clear(const std::string& base_url) {
  std::string url = base_url;
  for (std::size_t i = 0; i < url.size() && i < 7; ++i)
    url[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(url[i])));
  if (!url.starts_with("http://")) return;
  std::string_view rest(url);
  rest.remove_prefix(7);
  std::string_view host;
  if (rest.starts_with("[")) {
    host = rest.substr(1, rest.find(']') - 1);
  } else {
    host = rest.substr(0, rest.find_first_of(":/"));
  }
  std::string lower(host);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool loopback = lower == "localhost" || lower.starts_with("127.") || lower == "::1" ||
                  lower.ends_with(".localhost");
  if (loopback) return;
  std::fprintf(stderr,
               "jobpatch: WARNING: --base-url %s is plain http:// to a host that is not this "
               "machine: the API key and every token cross the network in clear text; use "
               "https://\n",
               base_url.c_str());
}

} // namespace jobpatch::cli
