// Command-line flag parsing: `--name value`, `--name=value`, boolean `--name`; unknown flags are
// errors. Not thread-safe; used once in main().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm {

class Flags {
 public:
  // Declares a flag taking a value, with its default and help text.
  Flags& Define(const std::string& name, const std::string& default_value, const std::string& help);
  // Declares a boolean flag (present = true).
  Flags& DefineBool(const std::string& name, const std::string& help);

  // Parses argv; non-flag arguments are collected as positionals. --help or -h sets help().
  Status Parse(int argc, char** argv);
  Status Parse(const std::vector<std::string>& args);

  std::string Get(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  StatusOr<long long> GetInt(const std::string& name) const;
  StatusOr<double> GetDouble(const std::string& name) const;
  // The flag as an address to call: HOST:PORT or [IPV6]:PORT with a port in 1-65535, or a gRPC
  // target with a scheme ("dns:///HOST:PORT", "unix:PATH") as is. INVALID_ARGUMENT naming the
  // flag otherwise ("127.0.0.1" alone would mean port 0).
  StatusOr<std::string> GetAddress(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  std::string Usage() const;
  // --help or -h was given: print the usage to stdout and exit 0.
  bool help() const { return help_; }
  // --version was given (alone, where the program defines a flag of that name): print
  // VersionLine (common/build_info.h) and exit 0.
  bool version() const { return version_; }

 private:
  struct Spec {
    std::string default_value;
    std::string help;
    bool is_bool = false;
  };
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
  bool version_ = false;
};

// Parses a whole string as a number; errors name `what`.
StatusOr<long long> ParseInt(const std::string& text, const std::string& what);
StatusOr<double> ParseDouble(const std::string& text, const std::string& what);
// Splits "1,8,64" into parts.
std::vector<std::string> SplitString(const std::string& text, char sep);

}  // namespace sweepfarm
