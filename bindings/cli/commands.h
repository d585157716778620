#ifndef SSMX_CLI_COMMANDS_H_
#define SSMX_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "output.h"

namespace ssmx::cli {

// Each subcommand takes the arguments after its name and returns the exit
// status; errors are thrown (ssmx::Error) and mapped to statuses by main.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args, const Settings& settings);
};

int RunInfo(const std::vector<std::string>& args, const Settings& settings);
int RunDrr(const std::vector<std::string>& args, const Settings& settings);
int RunDemo(const std::vector<std::string>& args, const Settings& settings);
int RunExport(const std::vector<std::string>& args, const Settings& settings);
int RunMesh(const std::vector<std::string>& args, const Settings& settings);
int RunDistance(const std::vector<std::string>& args, const Settings& settings);
int RunPhantom(const std::vector<std::string>& args, const Settings& settings);
int RunBuildModel(const std::vector<std::string>& args, const Settings& settings);
int RunModelInfo(const std::vector<std::string>& args, const Settings& settings);
int RunSample(const std::vector<std::string>& args, const Settings& settings);
int RunModelEval(const std::vector<std::string>& args, const Settings& settings);
int RunFit(const std::vector<std::string>& args, const Settings& settings);
int RunEdges(const std::vector<std::string>& args, const Settings& settings);
int RunPairs(const std::vector<std::string>& args, const Settings& settings);
int RunCorrespond(const std::vector<std::string>& args, const Settings& settings);
int RunRegister(const std::vector<std::string>& args, const Settings& settings);

}  // namespace ssmx::cli

#endif  // SSMX_CLI_COMMANDS_H_
