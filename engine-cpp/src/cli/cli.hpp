// Ripser-compatible command-line mode of tda-engine.
#pragma once

namespace tda::cli {

// `tda-engine [--format F] [--dim k] [--threshold t] [--modulus p] [--threads N]
//  [--ratio r] [file]`; prints barcodes in Ripser's text format to stdout.
// Returns the process exit code (0 ok, 2 bad usage or input).
int run_cli(int argc, char** argv);

}  // namespace tda::cli
