#include "net/tls.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <functional>
#include <memory>
#include <stdexcept>

#include "run_folder.hpp"

namespace psl::net {

namespace ssl = boost::asio::ssl;

std::string client_common_name(std::int64_t id) { return fmt::format("psl-client-{}", id); }

namespace {

void use_file(const std::string& file, const char* what, const std::function<void()>& load) {
  try {
    load();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(fmt::format("{}: cannot use it as the TLS {}: {}", file, what, e.code().message()));
  }
}

ssl::context tls13(ssl::context::method method) {
  ssl::context ctx(method);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  return ctx;
}

void load_identity(ssl::context& ctx, const TlsFiles& files) {
  use_file(files.cert, "certificate", [&] { ctx.use_certificate_chain_file(files.cert); });
  use_file(files.key, "private key", [&] { ctx.use_private_key_file(files.key, ssl::context::pem); });
}

}  // namespace

ssl::context server_tls_context(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty())
    throw std::runtime_error("transport.tls needs transport.tls_cert and transport.tls_key (or none of the TLS files, "
                             "with psl run, for certificates it makes itself)");
  auto ctx = tls13(ssl::context::tls_server);
  load_identity(ctx, files);
  if (!files.ca.empty()) {
    use_file(files.ca, "CA", [&] { ctx.load_verify_file(files.ca); });
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

ssl::context client_tls_context(const TlsFiles& files) {
  auto ctx = tls13(ssl::context::tls_client);
  use_file(files.ca, "CA", [&] { ctx.load_verify_file(files.ca); });
  ctx.set_verify_mode(ssl::verify_peer);
  if (!files.cert.empty()) load_identity(ctx, files);
  return ctx;
}

std::string peer_common_name(SSL* ssl) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), &X509_free);
  if (!cert) return "";
  char name[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, name, sizeof name) < 0) return "";
  return name;
}

std::string tls_failure_hint(const std::string& error) {
  for (const char* plain : {"wrong version number", "http request", "packet length too long", "record layer failure"})
    if (error.find(plain) != std::string::npos) return " (the other end speaks plain TCP, not TLS)";
  if (error.find("certificate verify failed") != std::string::npos || error.find("unknown ca") != std::string::npos)
    return " (the certificate is not signed by the CA this end trusts)";
  if (error.find("certificate required") != std::string::npos || error.find("peer did not return") != std::string::npos)
    return " (the server requires a client certificate: --tls-cert and --tls-key)";
  return "";
}

namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(fmt::format("making an ephemeral certificate: {} failed", what));
}

Key new_key() {
  Key key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("making an ephemeral certificate: EC key generation failed");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error(fmt::format("making an ephemeral certificate: bad extension '{}'", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when
// issuer is null).
Cert make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
               const std::vector<std::pair<int, std::string>>& extensions) {
  Cert cert(X509_new(), &X509_free);
  check(X509_set_version(cert.get(), 2), "X509_set_version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name), "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
  for (const auto& [nid, value] : extensions) add_extension(cert.get(), issuer ? issuer : cert.get(), nid, value);
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) throw std::runtime_error("making an ephemeral certificate: signing failed");
  return cert;
}

template <class Write>
std::string pem(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  check(write(bio.get()), "PEM encoding");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, std::size_t(n));
}

std::string cert_pem(X509* cert) {
  return pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
}
std::string key_pem(EVP_PKEY* key) {
  return pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
}

std::string subject_alt_names(const std::vector<std::string>& hosts) {
  std::string san;
  for (const auto& h : hosts) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(h, ec);
    if (!san.empty()) san += ',';
    san += ec ? "DNS:" : "IP:";
    san += h;
  }
  return san;
}

}  // namespace

EphemeralPki make_ephemeral_pki(const std::filesystem::path& dir, const std::vector<std::string>& hosts,
                                std::int64_t num_clients) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  auto write = [&](const std::string& name, const std::string& text, unsigned mode) {
    write_file_atomic(dir / name, text, mode);
    return (dir / name).string();
  };
  const Key ca_key = new_key();
  const Cert ca = make_cert(ca_key.get(), "psl ephemeral CA", nullptr, ca_key.get(),
                            {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign"}});
  EphemeralPki pki;
  pki.server.ca = write("ca.pem", cert_pem(ca.get()), 0644);
  const Key server_key = new_key();
  const Cert server = make_cert(server_key.get(), "psl server", ca.get(), ca_key.get(),
                                {{NID_basic_constraints, "critical,CA:FALSE"},
                                 {NID_ext_key_usage, "serverAuth"},
                                 {NID_subject_alt_name, subject_alt_names(hosts)}});
  pki.server.cert = write("server.pem", cert_pem(server.get()), 0644);
  pki.server.key = write("server.key", key_pem(server_key.get()), 0600);
  for (std::int64_t k = 0; k < num_clients; ++k) {
    const Key key = new_key();
    const Cert cert = make_cert(key.get(), client_common_name(k), ca.get(), ca_key.get(),
                                {{NID_basic_constraints, "critical,CA:FALSE"}, {NID_ext_key_usage, "clientAuth"}});
    TlsFiles files;
    files.ca = pki.server.ca;
    files.cert = write(fmt::format("client-{}.pem", k), cert_pem(cert.get()), 0644);
    files.key = write(fmt::format("client-{}.key", k), key_pem(key.get()), 0600);
    pki.clients.push_back(files);
  }
  return pki;
}

}  // namespace psl::net
