// Stand-alone entry point for the CLI mode (used by cli_test).
#include "cli/cli.hpp"

int main(int argc, char** argv) { return tda::cli::run_cli(argc, argv); }
