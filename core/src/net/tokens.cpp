#include "net/tokens.hpp"

#include <fmt/format.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "run_folder.hpp"

namespace psl::net {

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for a token");
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  return token;
}

std::string client_token(const std::string& master, std::int64_t client) {
  const std::string message = fmt::format("psl-client-{}", client);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), master.data(), int(master.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &n);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", mac[i]);
  return hex;
}

std::filesystem::path client_token_file(const std::filesystem::path& dir, std::int64_t client) {
  return dir / fmt::format("client-{}.token", client);
}

std::filesystem::path write_client_tokens(const std::filesystem::path& dir, const std::string& master,
                                          std::int64_t num_clients) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  for (std::int64_t k = 0; k < num_clients; ++k)
    write_file_atomic(client_token_file(dir, k), client_token(master, k) + "\n", 0600);
  return dir;
}

}  // namespace psl::net
