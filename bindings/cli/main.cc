// The `ssmx` command: one program, subcommands named after what a user wants.
// Exit status: 0 success, 2 bad input (arguments, files), 1 internal error.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "arguments.h"
#include "commands.h"
#include "ssmx/core/error.h"
#include "ssmx/core/log.h"
#include "ssmx/core/version.h"

namespace {

using ssmx::cli::Command;

const Command kCommands[] = {
    {"info", "describe a volume, DICOM folder or mesh (geometry, QA findings, problems)", ssmx::cli::RunInfo},
    {"export", "meshes to AR files (GLB, USDZ), OBJ/STL/PLY and an offline AR viewer", ssmx::cli::RunExport},
    {"demo", "run the pipeline on built-in data and write a report", ssmx::cli::RunDemo},
    {"mesh", "extract a surface from a label (mask folder, label map) or a CT threshold", ssmx::cli::RunMesh},
    {"distance", "surface distances, volumes and Dice between two meshes", ssmx::cli::RunDistance},
    {"drr", "simulate an X-ray (DRR) of a CT or a labelled structure, with its geometry sidecar", ssmx::cli::RunDrr},
    {"pairs", "synthetic X-ray/CT training pairs: seeded poses, DRRs, masks, landmarks, manifest",
     ssmx::cli::RunPairs},
    {"phantom", "write a cohort of phantom femurs: meshes in correspondence, CTs, true parameters",
     ssmx::cli::RunPhantom},
    {"correspond", "deform a reference mesh onto meshes: same vertices and faces, dense correspondence",
     ssmx::cli::RunCorrespond},
    {"build-model", "build a PCA shape model (statismo HDF5) from meshes in correspondence",
     ssmx::cli::RunBuildModel},
    {"model-info", "describe a statismo shape model: modes, variances, build history", ssmx::cli::RunModelInfo},
    {"sample", "draw seeded random shapes from a shape model", ssmx::cli::RunSample},
    {"model-eval", "compactness, generalisation and specificity curves of a shape model",
     ssmx::cli::RunModelEval},
    {"fit", "reconstruct a bone: fit a shape model to calibrated X-ray views (AP + lateral)",
     ssmx::cli::RunFit},
    {"edges", "show the edges the fit sees in an X-ray (DICOM CR/DX, DRR images)", ssmx::cli::RunEdges},
    {"register", "rigid pose of a CT (or one labelled bone) against X-ray views (2D/3D registration)",
     ssmx::cli::RunRegister},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: ssmx [--version] [-v|--verbose] [--quiet] COMMAND [ARGS...]\n\n"
               "ssmx %s: statistical shape models, DRRs and 3D bones from biplanar X-rays.\n\n"
               "commands:\n",
               ssmx::Version());
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nRun 'ssmx COMMAND --help' for the options and an example of each command.\n"
               "Exit status: 0 success, 2 bad input, 1 internal error.\n");
}


}  // namespace

int main(int argc, char** argv) {
  ssmx::cli::Settings settings;
  std::vector<std::string> rest;
  const Command* command = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!command) {
      if (arg == "--version") {
        std::printf("ssmx %s\n", ssmx::Version());
        return 0;
      }
      if (arg == "--help" || arg == "-h" || arg == "help") {
        PrintUsage(stdout);
        return 0;
      }
      if (arg == "-v" || arg == "--verbose") {
        ++settings.verbosity;
        continue;
      }
      if (arg == "-vv") {
        settings.verbosity += 2;
        continue;
      }
      if (arg == "--quiet" || arg == "-q") {
        settings.quiet = true;
        continue;
      }
      for (const Command& c : kCommands) {
        if (arg == c.name) command = &c;
      }
      if (!command) {
        std::fprintf(stderr, "ssmx: error: unknown command or option '%s'; run 'ssmx --help'\n", arg.c_str());
        return 2;
      }
    } else {
      // Global flags are accepted after the command too.
      if (arg == "-v" || arg == "--verbose") ++settings.verbosity;
      else if (arg == "--quiet" || arg == "-q") settings.quiet = true;
      else rest.push_back(arg);
    }
  }
  if (!command) {
    PrintUsage(stderr);
    return 2;
  }
  ssmx::SetLogLevel(settings.quiet ? ssmx::LogLevel::kError
                    : settings.verbosity >= 2 ? ssmx::LogLevel::kDebug
                    : settings.verbosity == 1 ? ssmx::LogLevel::kInfo
                                              : ssmx::LogLevel::kWarning);
  try {
    return command->run(rest, settings);
  } catch (const ssmx::InvalidInput& e) {
    std::fprintf(stderr, "ssmx %s: error: %s\n", command->name, e.what());
    return 2;
  } catch (const ssmx::IoError& e) {
    std::fprintf(stderr, "ssmx %s: error: %s\n", command->name, e.what());
    return 2;
  } catch (const ssmx::Error& e) {
    std::fprintf(stderr, "ssmx %s: internal error: %s\n", command->name, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ssmx %s: internal error: out of memory\n", command->name);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ssmx %s: internal error: %s\n", command->name, e.what());
    return 1;
  }
}
