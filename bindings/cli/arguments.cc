#include "arguments.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace ssmx::cli {

Arguments::Arguments(std::string command, std::string usage, std::string summary, std::string example)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)),
      example_(std::move(example)) {
  Option("json", "", "print machine-readable JSON on stdout instead of text");
  Option("help", "", "show this help");
}

Arguments& Arguments::Option(const std::string& name, const std::string& value_name,
                             const std::string& help) {
  specs_.push_back({name, {value_name, help}});
  return *this;
}

bool Arguments::Parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      if (arg == "-h") {
        std::fputs(Help().c_str(), stdout);
        return false;
      }
      if (arg.size() > 1 && arg[0] == '-' && !std::isdigit(static_cast<unsigned char>(arg[1]))) {
        throw UsageError("ssmx " + command_ + ": unknown option " + arg + "; see ssmx " + command_ + " --help");
      }
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Spec* spec = nullptr;
    for (const auto& [n, s] : specs_) {
      if (n == name) spec = &s;
    }
    if (!spec) {
      std::string valid;
      for (const auto& entry : specs_) valid += " --" + entry.first;
      throw UsageError("ssmx " + command_ + ": unknown option --" + name + "; valid options:" + valid);
    }
    if (name == "help") {
      std::fputs(Help().c_str(), stdout);
      return false;
    }
    if (spec->value_name.empty()) {
      if (inline_value) throw UsageError("ssmx " + command_ + ": --" + name + " takes no value");
      values_[name] = "1";
    } else {
      if (!inline_value) {
        if (i + 1 >= argv.size()) {
          throw UsageError("ssmx " + command_ + ": --" + name + " needs a value (" + spec->value_name + ")");
        }
        value = argv[++i];
      }
      values_[name] = value;
      all_values_[name].push_back(value);
    }
  }
  return true;
}

bool Arguments::Flag(const std::string& name) const { return values_.count(name) > 0; }
bool Arguments::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Arguments::Value(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Arguments::Values(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

double Arguments::Number(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || !std::isfinite(v)) {
    throw UsageError("ssmx " + command_ + ": --" + name + " expects a number, got \"" + it->second + "\"");
  }
  return v;
}

int Arguments::Integer(const std::string& name, int fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < -2147483647L || v > 2147483647L) {
    throw UsageError("ssmx " + command_ + ": --" + name + " expects an integer, got \"" + it->second + "\"");
  }
  return static_cast<int>(v);
}

std::string Arguments::Help() const {
  std::ostringstream out;
  out << "usage: ssmx " << command_ << " " << usage_ << "\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& [name, spec] : specs_) {
    std::string left = "  --" + name + (spec.value_name.empty() ? "" : " " + spec.value_name);
    if (left.size() < 26) left.resize(26, ' ');
    else left += "  ";
    out << left << spec.help << "\n";
  }
  out << "\nexample:\n  " << example_ << "\n";
  return out.str();
}

std::vector<double> NumberList(const std::string& option, const std::string& text, size_t count,
                               char separator) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v)) {
      throw UsageError("--" + option + " " + text + ": \"" + item + "\" is not a number");
    }
    values.push_back(v);
  }
  if (count == 0 && values.empty()) {
    throw UsageError("--" + option + " " + text + ": expected numbers separated by '" +
                     separator + "'");
  }
  if (count != 0 && values.size() != count) {
    throw UsageError("--" + option + " " + text + ": expected " + std::to_string(count) +
                     " numbers separated by '" + separator + "'");
  }
  return values;
}

std::pair<int, int> ImageSize(const std::string& option, const std::string& text) {
  const std::vector<double> size = NumberList(option, text, 2, 'x');
  if (size[0] != std::floor(size[0]) || size[1] != std::floor(size[1]) || size[0] < 1 ||
      size[1] < 1 || size[0] > 16384 || size[1] > 16384) {
    throw UsageError("--" + option + " " + text + ": expected COLSxROWS, whole numbers 1..16384");
  }
  return {static_cast<int>(size[0]), static_cast<int>(size[1])};
}

}  // namespace ssmx::cli
