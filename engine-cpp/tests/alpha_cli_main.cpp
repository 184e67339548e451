// Stand-alone alpha CLI (no gRPC server): `tda_alpha_cli [--algorithm alpha] ...`.
#include "cli/alpha_cli.hpp"

int main(int argc, char** argv) { return tda::cli::run_alpha_cli(argc, argv); }
