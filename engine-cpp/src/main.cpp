// tda-engine: `tda-engine serve [flags]` runs the gRPC compute server, loaded
// from libtda_engine_server.so next to the executable; `--algorithm alpha` runs
// the Alpha-complex CLI from libtda_alpha_cli.so (built with CGAL); any other
// arguments go to the Rips command-line interface, which needs neither.
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

namespace {

// True for `--algorithm alpha` / `--algorithm=alpha` anywhere in the arguments.
bool wants_alpha(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--algorithm=alpha") == 0) return true;
    if (std::strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc && std::strcmp(argv[i + 1], "alpha") == 0) return true;
  }
  return false;
}

// Loads `lib` from the executable's directory and runs its C entry point
// `symbol`; `what` names it in errors.
int run_library(const char* lib, const char* symbol, const char* what, int argc, char** argv) {
  std::string dir = ".";
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) {
    self[len] = '\0';
    dir.assign(self);
    dir.erase(dir.find_last_of('/'));
  }
  const std::string path = dir + "/" + lib;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "tda-engine: cannot load %s (%s)\n", what, dlerror());
    return 1;
  }
  using Entry = int (*)(int, char**);
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, symbol));
  if (!entry) {
    std::fprintf(stderr, "tda-engine: %s has no entry point %s\n", path.c_str(), symbol);
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

  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0)
    return run_library("libtda_engine_server.so", "tda_engine_serve", "the server", argc, argv);

  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  // (a build without CGAL has no such library: the error says so)
  if (wants_alpha(argc, argv))
    return run_library("libtda_alpha_cli.so", "tda_alpha_cli_main", "the Alpha-complex support", argc, argv);
#ifdef TDA_HAVE_CLI
  return tda::cli::run_cli(argc, argv);
#else
  std::fprintf(stderr, "usage: tda-engine serve [flags]   (this build has no CLI)\n");
  return 2;
#endif
}
