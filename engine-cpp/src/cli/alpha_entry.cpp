// The Alpha-complex command line's entry point, exported by libtda_alpha_cli.so.
// `tda-engine --algorithm alpha ...` loads the library only then, so a Rips run
// never maps CGAL's dependencies (GMP, MPFR) or runs their initialisers.
#include "cli/alpha_cli.hpp"

extern "C" __attribute__((visibility("default"))) int tda_alpha_cli_main(int argc, char** argv) {
  return tda::cli::run_alpha_cli(argc, argv);
}
