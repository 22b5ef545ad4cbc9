#include "common/flags.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace sweepfarm {

Flags& Flags::Define(const std::string& name, const std::string& default_value,
                     const std::string& help) {
  specs_[name] = Spec{default_value, help, false};
  return *this;
}

Flags& Flags::DefineBool(const std::string& name, const std::string& help) {
  specs_[name] = Spec{"false", help, true};
  return *this;
}

Status Flags::Parse(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

Status Flags::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    // A program's own --version flag (sweepctl's registry version) keeps it, except alone.
    if (arg == "--version" && (specs_.count("version") == 0 || args.size() == 1)) {
      version_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) return InvalidArgumentError("unknown flag --" + name + "\n" + Usage());
    if (it->second.is_bool) {
      if (has_value && value != "true" && value != "false") {
        return InvalidArgumentError("flag --" + name + " takes no value (or =true/=false)");
      }
      values_[name] = has_value ? value : "true";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return InvalidArgumentError("flag --" + name + " needs a value");
      value = args[++i];
    }
    values_[name] = value;
  }
  return OkStatus();
}

std::string Flags::Get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  if (auto it = specs_.find(name); it != specs_.end()) return it->second.default_value;
  return "";
}

bool Flags::GetBool(const std::string& name) const { return Get(name) == "true"; }
bool Flags::IsSet(const std::string& name) const { return values_.count(name) > 0; }

StatusOr<long long> Flags::GetInt(const std::string& name) const {
  return ParseInt(Get(name), "--" + name);
}
StatusOr<double> Flags::GetDouble(const std::string& name) const {
  return ParseDouble(Get(name), "--" + name);
}

StatusOr<std::string> Flags::GetAddress(const std::string& name) const {
  const std::string address = Get(name);
  if (address.rfind("unix:", 0) == 0 || address.find("://") != std::string::npos) return address;
  const size_t colon = address.rfind(':');
  const bool bracketed = !address.empty() && address[0] == '[';
  const std::string example = "; use HOST:PORT (e.g. 127.0.0.1:50051)";
  if (colon == std::string::npos || colon == 0 || (bracketed && address[colon - 1] != ']') ||
      (!bracketed && address.find(':') != colon)) {
    return InvalidArgumentError("--" + name + ": \"" + address + "\" has no port" + example);
  }
  auto port = ParseInt(address.substr(colon + 1), "--" + name + " port");
  if (!port.ok() || *port < 1 || *port > 65535) {
    return InvalidArgumentError("--" + name + ": \"" + address + "\" needs a port in 1-65535" +
                                example);
  }
  return address;
}

std::string Flags::Usage() const {
  std::ostringstream out;
  out << "flags:\n";
  for (const auto& [name, spec] : specs_) {
    out << "  --" << name;
    if (!spec.is_bool) out << " (default \"" << spec.default_value << "\")";
    out << "  " << spec.help << "\n";
  }
  return out.str();
}

StatusOr<long long> ParseInt(const std::string& text, const std::string& what) {
  if (text.empty()) return InvalidArgumentError(what + ": expected an integer, got an empty value");
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) {
    return InvalidArgumentError(what + ": expected an integer, got \"" + text + "\"");
  }
  return v;
}

StatusOr<double> ParseDouble(const std::string& text, const std::string& what) {
  if (text.empty()) return InvalidArgumentError(what + ": expected a number, got an empty value");
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size()) {
    return InvalidArgumentError(what + ": expected a number, got \"" + text + "\"");
  }
  return v;
}

std::vector<std::string> SplitString(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty() || !parts.empty()) parts.push_back(cur);
  return parts;
}

}  // namespace sweepfarm
