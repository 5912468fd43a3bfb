// The files of one end of a TLS connection (no OpenSSL here: settings only).
#pragma once

#include <string>

namespace psl::net {

struct TlsFiles {
  std::string cert;  // this side's certificate chain (PEM)
  std::string key;   // its private key (PEM)
  std::string ca;    // server: clients must present a certificate signed by it (mutual TLS)
                     // client: the CA that signed the server's certificate
};

}  // namespace psl::net
