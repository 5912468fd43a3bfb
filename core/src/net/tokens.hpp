// Client authentication by token: the server holds one master secret and accepts from
// client k only HMAC-SHA256(master, "psl-client-k"), so a leaked client token lets its
// holder act as that one client, not as every client.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace psl::net {

// 256 random bits as hex, for a run without a token file.
std::string random_token();

std::string client_token(const std::string& master, std::int64_t client);

// DIR/client-K.token for every client, readable only by this user; returns DIR.
std::filesystem::path write_client_tokens(const std::filesystem::path& dir, const std::string& master,
                                          std::int64_t num_clients);
std::filesystem::path client_token_file(const std::filesystem::path& dir, std::int64_t client);

}  // namespace psl::net
