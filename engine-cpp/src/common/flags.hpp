// One command-line parser for the engine's three front ends: the Rips CLI (src/cli/cli.cpp),
// the Alpha CLI (src/cli/alpha_cli.cpp) and `tda-engine serve` (src/server/config.cpp).
// CLI11 reads the syntax (`--name value`, `--name=value`, switches, `-h`/`--help`, `--`, the
// last of a repeated flag wins, negative numbers as values); each front end checks the values
// and words its own messages and exit codes.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tda::flags {

struct Flag {
  std::string name;         // without the leading dashes: "dim", "memory-limit"
  bool takes_value = true;  // false: a switch (`--stats`)
};

struct Parsed {
  std::map<std::string, std::string> values;  // each flag given (by name): its last value; switches: ""
  std::vector<std::string> positional;        // the other arguments, in order
  std::vector<std::string> unknown;           // dash-led arguments that name no flag, as written
  bool help = false;                          // -h or --help
  bool has(const std::string& name) const { return values.count(name) != 0; }
};

// A flag that needs a value is last (or followed by another flag), or the syntax is otherwise
// unreadable. `flag` is the flag as spelled with dashes ("--dim") when known.
struct FlagError : std::runtime_error {
  enum class Problem { MissingValue, Malformed };
  FlagError(Problem p, std::string f, const std::string& what)
      : std::runtime_error(what), problem(p), flag(std::move(f)) {}
  Problem problem;
  std::string flag;
};

// Parses `args` (without the program name) against `flags`.
Parsed parse(const std::vector<std::string>& args, const std::vector<Flag>& flags);

// The dash-led part of an unknown argument: "--bogus" for "--bogus=1".
std::string option_name(const std::string& arg);

// A mistake on a Ripser-style command line (the Rips and the Alpha CLI): the front end prints
// the message with its usage text and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// parse() for a Ripser-style command line: `argv[1..argc)` against `flags`. A FlagError becomes a
// UsageError ("missing value for --dim", or CLI11's words), an unknown `--name` is a UsageError
// ("unknown option --name"), a lone `--` ends the flags and any other dash-led word (`-x`) is a
// file name, as Ripser takes it; `unknown` is left empty.
Parsed parse_command_line(int argc, char** argv, const std::vector<Flag>& flags);

// A whole-number value of `opt` ("--dim") in [lo, hi]. UsageError "invalid value for --dim: 'x'"
// when `s` is no integer, `range_error` when it is out of range.
long parse_int_in(const std::string& opt, const std::string& s, long lo, long hi, const std::string& range_error);

}  // namespace tda::flags
