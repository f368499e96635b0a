#pragma once
// A throwaway TLS identity for the mock, generated at start with OpenSSL.

#include <string>

namespace jobpatch::mock {

struct tls_identity {
  std::string certificate_pem; // what clients pass as --cacert
  std::string private_key_pem;
};

// An ECDSA P-256 key and a self-signed certificate for "localhost", 127.0.0.1 and ::1,
// valid from an hour ago for 30 days. Throws std::runtime_error on an OpenSSL failure.
tls_identity make_self_signed_certificate();

} // namespace jobpatch::mock
