// tda-engine: `tda-engine serve [flags]` runs the gRPC compute server; any
// other arguments go to the command-line interface (`--algorithm alpha` to the
// Alpha-complex CLI when built with CGAL).
#include <pthread.h>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "server/config.hpp"
#include "server/server.hpp"
#ifdef TDA_HAVE_CLI
#include "cli/cli.hpp"
#endif
#ifdef TDA_HAVE_ALPHA
#include "cli/alpha_cli.hpp"
#endif

namespace {

// True for `--algorithm alpha` / `--algorithm=alpha` anywhere in the arguments.
[[maybe_unused]] bool wants_alpha(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--algorithm=alpha") == 0) return true;
    if (std::strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc && std::strcmp(argv[i + 1], "alpha") == 0)
      return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and only the
  // server's sigwait() sees SIGTERM / SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) {
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

  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
#ifdef TDA_HAVE_ALPHA
  if (wants_alpha(argc, argv)) return tda::cli::run_alpha_cli(argc, argv);
#endif
#ifdef TDA_HAVE_CLI
  return tda::cli::run_cli(argc, argv);
#else
  std::fprintf(stderr, "usage: tda-engine serve [flags]   (this build has no CLI)\n");
  return 2;
#endif
}
