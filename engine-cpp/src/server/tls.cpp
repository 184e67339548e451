#include "server/tls.hpp"

#include <fstream>
#include <sstream>

#include "server/log.hpp"

namespace tda::server {
namespace {

// The whole of a PEM file; empty (and a log line) when it cannot be read.
std::string read_pem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    log_line("error: cannot read the TLS %s %s", what, path.c_str());
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerConfig& config) {
  if (!config.tls()) {
    log_line(
        "WARNING: TLS IS OFF: this port is plaintext and anyone who reaches it may call the engine. "
        "Give --tls-ca/--tls-cert/--tls-key (TDA_TLS_CA, TDA_TLS_CERT, TDA_TLS_KEY) outside local development");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = read_pem(config.tls_ca, "CA");
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.cert_chain = read_pem(config.tls_cert, "certificate");
  pair.private_key = read_pem(config.tls_key, "key");
  if (options.pem_root_certs.empty() || pair.cert_chain.empty() || pair.private_key.empty()) return nullptr;
  options.pem_key_cert_pairs.push_back(std::move(pair));
  log_line("mutual TLS on: callers need a certificate signed by %s", config.tls_ca.c_str());
  return grpc::SslServerCredentials(options);
}

}  // namespace tda::server
