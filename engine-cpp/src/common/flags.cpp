// The shared flag parser (see flags.hpp), on CLI11 (Debian libcli11-dev).
#include "common/flags.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>

namespace tda::flags {

std::string option_name(const std::string& arg) {
  const size_t eq = arg.find('=');
  return eq == std::string::npos ? arg : arg.substr(0, eq);
}

Parsed parse(const std::vector<std::string>& args, const std::vector<Flag>& flags) {
  CLI::App app;
  app.set_help_flag();  // help is reported, not printed: each front end has its own text
  app.allow_extras();   // unknown flags are reported back, each front end words the error
  Parsed out;
  app.add_flag("-h,--help", out.help);
  std::vector<std::string> text(flags.size());
  std::vector<CLI::Option*> options;
  for (size_t i = 0; i < flags.size(); ++i) {
    CLI::Option* o =
        flags[i].takes_value ? app.add_option("--" + flags[i].name, text[i]) : app.add_flag("--" + flags[i].name);
    o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    options.push_back(o);
  }
  std::vector<std::string> positional;
  app.add_option("arguments", positional);

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ArgumentMismatch& e) {
    // "--dim: 1 required TEXT missing"
    const std::string what = e.what();
    const size_t colon = what.find(':');
    throw FlagError(FlagError::Problem::MissingValue, colon == std::string::npos ? "" : what.substr(0, colon), what);
  } catch (const CLI::ParseError& e) {
    throw FlagError(FlagError::Problem::Malformed, "", e.what());
  }
  for (size_t i = 0; i < flags.size(); ++i)
    if (options[i]->count() > 0) out.values[flags[i].name] = flags[i].takes_value ? text[i] : "";
  for (const std::string& extra : app.remaining()) {
    if (extra.size() > 1 && extra[0] == '-') out.unknown.push_back(extra);
    else out.positional.push_back(extra);
  }
  out.positional.insert(out.positional.end(), positional.begin(), positional.end());
  return out;
}

Parsed parse_command_line(int argc, char** argv, const std::vector<Flag>& flags) {
  Parsed f;
  try {
    f = parse(std::vector<std::string>(argv + 1, argv + argc), flags);
  } catch (const FlagError& e) {
    if (e.problem == FlagError::Problem::MissingValue) throw UsageError("missing value for " + e.flag);
    throw UsageError(e.what());
  }
  for (const std::string& u : f.unknown) {
    if (u == "--") continue;  // end of the flags
    if (u.rfind("--", 0) == 0) throw UsageError("unknown option " + option_name(u));
    f.positional.insert(f.positional.begin(), u);  // "-x": a file name
  }
  f.unknown.clear();
  return f;
}

long parse_int_in(const std::string& opt, const std::string& s, long lo, long hi, const std::string& range_error) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) throw UsageError("invalid value for " + opt + ": '" + s + "'");
  if (v < lo || v > hi) throw UsageError(range_error);
  return v;
}

}  // namespace tda::flags
