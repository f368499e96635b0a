// The API key of `apply` and `bench`: from a file or the environment, never from argv
// (it would show in `ps`).

#include "cli/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

namespace jobpatch::cli {

std::string load_api_key(const std::string& key_file) {
  std::string key;
  if (!key_file.empty()) {
    struct stat st {};
    if (::stat(key_file.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
      std::fprintf(stderr, "jobpatch: warning: %s is readable by other users; chmod 600 it\n",
                   key_file.c_str());
    std::ifstream in(key_file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read --api-key-file " + key_file);
    std::ostringstream text;
    text << in.rdbuf();
    key = text.str();
  } else if (const char* env = std::getenv("BYTENITE_API_KEY")) {
    key = env;
  }
  while (!key.empty() &&
         (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
    key.pop_back();
  return key;
}

bool load_credentials(std::string& api_key, const std::string& key_file, bool insecure) {
  api_key = load_api_key(key_file);
  if (api_key.empty()) {
    std::fprintf(stderr, "jobpatch: no API key: set BYTENITE_API_KEY or pass --api-key-file\n");
    return false;
  }
  if (insecure)
    std::fprintf(stderr, "jobpatch: WARNING: --insecure: TLS certificates are NOT verified; "
                         "use this against test servers only\n");
  return true;
}

} // namespace jobpatch::cli
