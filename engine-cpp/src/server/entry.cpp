// The server's entry point, exported by libtda_engine_server.so. `tda-engine`
// loads the library only for `serve`, so the command line never maps gRPC,
// protobuf and their dependencies (a 13 MB process instead of a 4 MB one).
#include <cstdio>

#include "server/config.hpp"
#include "server/server.hpp"

extern "C" __attribute__((visibility("default"))) int tda_engine_serve(int argc, char** argv) {
  try {
    bool help = false;
    const auto config = tda::server::parse_server_config(argc, argv, 2, tda::server::process_env, &help);
    if (help) {
      std::fputs(tda::server::server_usage().c_str(), stdout);
      return 0;
    }
    return tda::server::run_server(config);
  } catch (const tda::server::ConfigError& e) {
    std::fprintf(stderr, "tda-engine serve: %s\n", e.what());
    return 2;
  }
}
