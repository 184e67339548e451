// tda-engine: `tda-engine serve [flags]` runs the gRPC compute server, loaded
// from libtda_engine_server.so next to the executable; any other arguments go to
// the command-line interface (`--algorithm alpha` to the Alpha-complex CLI when
// built with CGAL), which needs no gRPC.
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

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

// Loads the server library from the executable's directory and runs it.
int serve(int argc, char** argv) {
  std::string dir = ".";
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) {
    self[len] = '\0';
    dir.assign(self);
    dir.erase(dir.find_last_of('/'));
  }
  const std::string lib = dir + "/libtda_engine_server.so";
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "tda-engine serve: cannot load the server (%s)\n", dlerror());
    return 1;
  }
  using Entry = int (*)(int, char**);
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, "tda_engine_serve"));
  if (!entry) {
    std::fprintf(stderr, "tda-engine serve: %s has no entry point\n", lib.c_str());
    return 1;
  }
  return entry(argc, argv);
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

  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) return serve(argc, argv);

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
