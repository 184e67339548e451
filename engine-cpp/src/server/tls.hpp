// Mutual TLS between mesh processes: the engine's server credentials.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "server/config.hpp"

namespace tda::server {

// Mutual TLS when configured (a caller without a certificate from the mesh CA
// cannot open a connection), else plaintext with a loud log line; nullptr when
// the files cannot be read.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerConfig& config);

}  // namespace tda::server
