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
  std::string name;          // without the leading dashes: "dim", "memory-limit"
  bool takes_value = true;   // false: a switch (`--stats`)
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

}  // namespace tda::flags
