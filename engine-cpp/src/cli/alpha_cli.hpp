// Command-line mode of tda-engine for Alpha-complex persistence.
#pragma once

namespace tda::cli {

// `tda-engine --algorithm alpha [--format point-cloud] [--dim k] [--radius]
//  [--max-alpha a] [--stats] [file]`
// Reads points (numbers separated by commas or whitespace, one point per line;
// or an OFF / nOFF file), prints the barcodes in Ripser's text format with
// values at full double precision (shortest round-trip form) to stdout.
// Returns the process exit code (0 ok, 2 bad usage or input).
int run_alpha_cli(int argc, char** argv);

}  // namespace tda::cli
