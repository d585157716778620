#ifndef SSMX_CLI_ARGUMENTS_H_
#define SSMX_CLI_ARGUMENTS_H_

#include <map>
#include <string>
#include <vector>

#include "ssmx/core/error.h"

namespace ssmx::cli {

// A mistake on the command line; exit status 2 like any bad input.
class UsageError : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

// Declared options of one subcommand and the values parsed for them. Options
// are "--name VALUE", "--name=VALUE" or boolean "--name"; everything else is
// positional. Unknown options are an error, with the valid ones listed.
class Arguments {
 public:
  Arguments(std::string command, std::string usage, std::string summary, std::string example);

  // Declares an option; `value_name` empty makes it a flag.
  Arguments& Option(const std::string& name, const std::string& value_name, const std::string& help);

  // Parses argv (after the subcommand). Returns false when --help was given
  // (the help text has been printed).
  bool Parse(const std::vector<std::string>& argv);

  bool Flag(const std::string& name) const;
  bool Has(const std::string& name) const;
  std::string Value(const std::string& name, const std::string& fallback = "") const;
  // Every value given for a repeatable option, in order ("--name a --name b").
  std::vector<std::string> Values(const std::string& name) const;
  double Number(const std::string& name, double fallback) const;
  int Integer(const std::string& name, int fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::string Help() const;
  const std::string& command() const { return command_; }

 private:
  struct Spec {
    std::string value_name;
    std::string help;
  };
  std::string command_, usage_, summary_, example_;
  std::vector<std::pair<std::string, Spec>> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_;
};

// `count` (0: one or more) finite numbers separated by `separator` ("--window
// 0,16"); throws UsageError naming the option otherwise.
std::vector<double> NumberList(const std::string& option, const std::string& text, size_t count,
                               char separator = ',');

// "COLSxROWS", whole numbers 1..16384, as (cols, rows); throws UsageError otherwise.
std::pair<int, int> ImageSize(const std::string& option, const std::string& text);

}  // namespace ssmx::cli

#endif  // SSMX_CLI_ARGUMENTS_H_
