// Leave-one-out benchmark of the biplanar shape-model fit on the phantom femur
// cohort (docs/biplanar_fit.md, "Accuracy"). For each subject i: the model is
// built from the other subjects' meshes (true correspondence); AP and lateral
// DRRs are simulated from subject i's CT (not its mesh) with Poisson noise;
// the fit starts either from noisy 2D landmarks (scenario "landmarks") or
// from the true pose perturbed by up to +-15 mm and +-10 degrees without
// landmarks (scenario "perturbed"); the result is compared with subject i's
// true mesh.
//
//   biplanar_loo [--n 30] [--seed 11] [--modes 20] [--size 512] [--ct-spacing 1.0]
//                [--i0 1e5] [--scenario landmarks|perturbed|both] [--subjects K]
//                [--out DIR] [--overlays N] [--only I,J,...] [--scan-extension 60]
//                [--intensity-roi MM] [--capture F] [--roi MM] [--levels L]
//                [--symmetric W] [--search] [--perturb-mm 15] [--perturb-deg 10]
//
// Writes DIR/biplanar_loo.json and DIR/biplanar_loo.md and prints the table.

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/drr/projector.h"
#include "ssmx/registration/biplanar_fit.h"
#include "ssmx/registration/xray_features.h"
#include "ssmx/ssm/alignment.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/shape_model.h"
#include "ssmx/ssm/surface_distance.h"

namespace {

using namespace ssmx;
using json = nlohmann::json;
constexpr double kPi = 3.14159265358979323846;

struct Args {
  int n = 30;
  uint64_t seed = 11;
  int modes = 20;
  int size = 512;
  double ct_spacing = 1.0;
  double i0 = 1e5;
  std::string scenario = "both";
  int subjects = 0;       // 0: all n
  int first = 0;          // the first subject left out
  std::vector<int> only;  // --only 1,3,5: just these subjects
  bool search = false;
  std::string out = "biplanar_loo";
  int overlays = 0;
  int template_faces = 10000;
  double symmetric = 0.0;
  int levels = 3;
  double roi = 25;
  double capture = registration::FitOptions().capture_factor;
  double intensity_roi = registration::FitOptions().intensity_roi_mm;
  // The CT's scan range beyond the bone's ends: the flat cut of the thigh
  // there is an edge no radiograph has (docs/biplanar_fit.md).
  double scan_extension = 60;
  double perturb_mm = 15;
  double perturb_deg = 10;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw InvalidInput(k + " needs a value");
      return argv[++i];
    };
    if (k == "--n")
      a.n = std::stoi(next());
    else if (k == "--seed")
      a.seed = std::stoull(next());
    else if (k == "--modes")
      a.modes = std::stoi(next());
    else if (k == "--size")
      a.size = std::stoi(next());
    else if (k == "--ct-spacing")
      a.ct_spacing = std::stod(next());
    else if (k == "--i0")
      a.i0 = std::stod(next());
    else if (k == "--scenario")
      a.scenario = next();
    else if (k == "--subjects")
      a.subjects = std::stoi(next());
    else if (k == "--only") {
      std::stringstream list(next());
      for (std::string item; std::getline(list, item, ',');) a.only.push_back(std::stoi(item));
    } else if (k == "--first")
      a.first = std::stoi(next());
    else if (k == "--search")
      a.search = true;
    else if (k == "--out")
      a.out = next();
    else if (k == "--overlays")
      a.overlays = std::stoi(next());
    else if (k == "--symmetric")
      a.symmetric = std::stod(next());
    else if (k == "--levels")
      a.levels = std::stoi(next());
    else if (k == "--roi")
      a.roi = std::stod(next());
    else if (k == "--template-faces")
      a.template_faces = std::stoi(next());
    else if (k == "--intensity-roi")
      a.intensity_roi = std::stod(next());
    else if (k == "--scan-extension")
      a.scan_extension = std::stod(next());
    else if (k == "--capture")
      a.capture = std::stod(next());
    else if (k == "--perturb-mm")
      a.perturb_mm = std::stod(next());
    else if (k == "--perturb-deg")
      a.perturb_deg = std::stod(next());
    else
      throw InvalidInput("unknown argument " + k);
  }
  return a;
}

double Seconds(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Uniform in [-1, 1] from a 64-bit generator (own mapping: same bytes everywhere).
double Uniform(std::mt19937_64& rng) { return (rng() >> 11) * 0x1.0p-53 * 2 - 1; }
double Normal(std::mt19937_64& rng) {
  const double u1 = ((rng() >> 11) + 1.0) * 0x1.0p-53, u2 = (rng() >> 11) * 0x1.0p-53;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
}

double MedianOf(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Outcome {
  int subject = 0;
  std::string scenario;
  double mean_mm = 0, rms_mm = 0, p95_mm = 0;
  double vertex_rms_mm = 0;
  double start_mean_mm = 0;  // the model mean at the start pose vs the truth
  double within_2sd = 0;     // fraction of vertices whose error <= 2 posterior SD
  double seconds = 0;
  double residual_deg = 0, residual_mm = 0, twist_deg = 0;  // rigid offset fit -> truth
  bool flagged = false;
  std::string flags;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = Parse(argc, argv);
    namespace fs = std::filesystem;
    fs::create_directories(args.out);
    const auto t0 = std::chrono::steady_clock::now();

    // The cohort, with true correspondence.
    ssm::PhantomMeshOptions mesh_options;
    mesh_options.spacing_mm = 1.0;
    mesh_options.target_faces = args.template_faces;
    const ssm::FemurTemplate femur_template = ssm::MakeFemurTemplate(mesh_options);
    const std::vector<ssm::FemurParameters> parameters =
        ssm::SampleFemurParameters(args.n, args.seed);
    std::vector<ssm::PhantomFemur> femurs;
    std::vector<TriangleMesh> meshes;
    for (const auto& p : parameters) {
      femurs.emplace_back(p);
      meshes.push_back(ssm::CorrespondingFemurMesh(femur_template, femurs.back()));
    }
    std::fprintf(stderr, "cohort: %d femurs, %lld vertices each (%.1f s)\n", args.n,
                 static_cast<long long>(meshes[0].num_vertices()), Seconds(t0));

    std::vector<Outcome> outcomes;
    const int subjects = args.subjects > 0 ? std::min(args.subjects, args.n) : args.n;
    std::vector<std::string> scenarios;
    if (args.scenario == "both" || args.scenario == "landmarks") scenarios.push_back("landmarks");
    if (args.scenario == "both" || args.scenario == "perturbed") scenarios.push_back("perturbed");
    std::vector<int> order;
    for (int i = args.first; i < std::min(args.n, args.first + subjects); ++i) order.push_back(i);
    if (!args.only.empty()) order = args.only;
    for (const int i : order) {
      if (i < 0 || i >= args.n)
        throw InvalidInput("--only: subject " + std::to_string(i) + " outside 0.." +
                           std::to_string(args.n - 1));
      // Model without subject i.
      std::vector<TriangleMesh> training;
      for (int j = 0; j < args.n; ++j)
        if (j != i) training.push_back(meshes[j]);
      ssm::ShapeModelBuildOptions build;
      build.alignment = ssm::AlignmentKind::kRigid;
      ssm::ShapeModel model = ssm::BuildShapeModel(training, build);
      model.SetLandmarks(femur_template.landmark_vertices);

      // Subject i's CT and its DRRs.
      ssm::PhantomCtOptions ct_options;
      ct_options.spacing_mm = args.ct_spacing;
      ct_options.scan_extension_mm = args.scan_extension;
      const Volume ct = ssm::SynthesizePhantomCt(femurs[i], ct_options);
      const drr::PreparedVolume prepared = drr::PreparedVolume::FromHounsfield(ct);
      std::vector<registration::FitView> views;
      const Eigen::Vector3d isocenter = ct.geometry().Center();
      for (const drr::NamedView view : {drr::NamedView::kAP, drr::NamedView::kLAT}) {
        drr::CarmGeometry detector;
        detector.rows = detector.cols = args.size;
        // 512 pixels of 1.6 mm: 819 mm on the detector, 573 mm at the isocentre
        // (a long-leg cassette), so the whole femur is in both views.
        detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = 1.6 * 512.0 / args.size;
        registration::FitView fit_view;
        fit_view.geometry = drr::ProjectionGeometry::Named(view, isocenter, detector);
        const Image2D line = drr::Project(prepared, fit_view.geometry);
        const Image2D counts = drr::IntensityFromLineIntegral(
            line, args.i0, args.seed * 1000 + i * 2 + (view == drr::NamedView::kLAT));
        fit_view.image = drr::LineIntegralFromIntensity(counts, args.i0);
        fit_view.name = drr::NamedViewName(view);
        views.push_back(std::move(fit_view));
      }
      const TriangleMesh& truth = meshes[i];

      for (const std::string& scenario : scenarios) {
        std::mt19937_64 rng(args.seed * 7919 + i * 31 + (scenario == "perturbed"));
        registration::FitInitialization init;
        if (scenario == "landmarks") {
          // Every landmark marked on both views with 1.5 px (about 1 mm) annotator noise.
          init.landmarks.resize(views.size());
          for (const auto& [name, vertex] : femur_template.landmark_vertices) {
            const Eigen::Vector3d x = truth.vertices.row(vertex).transpose();
            for (size_t v = 0; v < views.size(); ++v) {
              Eigen::Vector2d uv = views[v].geometry.Project(x);
              uv += 1.5 * Eigen::Vector2d(Normal(rng), Normal(rng));
              init.landmarks[v][name] = uv;
            }
          }
        } else {
          // The true pose of the model mean, perturbed.
          const ssm::SimilarityTransform t =
              ssm::Umeyama(model.MeanMesh().vertices, truth.vertices, false);
          const Eigen::Vector3d center = model.MeanMesh().vertices.colwise().mean().transpose();
          registration::Pose pose = registration::Pose::FromMatrix(t.Matrix(), center);
          Eigen::Vector3d axis(Normal(rng), Normal(rng), Normal(rng));
          axis.normalize();
          const double angle = Uniform(rng) * args.perturb_deg * kPi / 180;
          const Eigen::Matrix3d r =
              Eigen::AngleAxisd(angle, axis).toRotationMatrix() * pose.RotationMatrix();
          const Eigen::AngleAxisd aa(r);
          pose.rotation = aa.axis() * aa.angle();
          pose.translation +=
              args.perturb_mm * Eigen::Vector3d(Uniform(rng), Uniform(rng), Uniform(rng));
          init.pose = pose;
        }
        registration::FitOptions options;
        options.modes = args.modes;
        options.symmetric_weight = args.symmetric;
        options.edges.levels = args.levels;
        options.roi_margin_mm = args.roi;
        options.capture_factor = args.capture;
        options.intensity_roi_mm = args.intensity_roi;
        options.search = args.search && scenario == "perturbed";
        const auto start = std::chrono::steady_clock::now();
        const registration::FitResult fit =
            registration::FitShapeModel(model, views, init, options);
        Outcome o;
        o.seconds = Seconds(start);
        o.subject = i;
        o.scenario = scenario;
        ssm::SurfaceDistanceOptions distance_options;
        distance_options.compute_dice = false;
        const ssm::SurfaceDistanceSummary d =
            ssm::ComputeSurfaceDistance(fit.mesh, truth, distance_options);
        o.mean_mm = d.mean_mm;
        {
          TriangleMesh start_mesh = model.MeanMesh();
          start_mesh.vertices = fit.initial_pose.Apply(Eigen::MatrixX3d(start_mesh.vertices));
          o.start_mean_mm =
              ssm::ComputeSurfaceDistance(start_mesh, truth, distance_options).mean_mm;
        }
        o.rms_mm = d.rms_mm;
        o.p95_mm = d.p95_mm;
        const Eigen::VectorXd errors = (fit.mesh.vertices - truth.vertices).rowwise().norm();
        o.vertex_rms_mm = std::sqrt(errors.squaredNorm() / errors.size());
        const Eigen::VectorXd& sd = fit.mesh.scalars.at("posterior_std_mm");
        o.within_2sd = (errors.array() <= 2 * sd.array()).cast<double>().mean();
        // How far the fit sits from the truth as a rigid body: the rotation
        // and translation that best map the fitted mesh onto the true one.
        const ssm::SimilarityTransform residual =
            ssm::Umeyama(fit.mesh.vertices, truth.vertices, false);
        const Eigen::AngleAxisd turn(residual.rotation);
        o.residual_deg = turn.angle() * 180 / kPi;
        {
          // The twist: the rotation vector's share along the femur's long axis.
          const Eigen::MatrixX3d centred =
              truth.vertices.rowwise() - truth.vertices.colwise().mean();
          const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(centred.transpose() * centred);
          o.twist_deg = turn.angle() * turn.axis().dot(eig.eigenvectors().col(2)) * 180 / kPi;
        }
        const MatrixX3dR centroid = fit.mesh.vertices.colwise().mean();
        o.residual_mm = (residual.Apply(centroid) - centroid).norm();
        o.flagged = fit.AnyFlagRaised();
        for (const auto& f : fit.flags)
          if (f.raised) o.flags += (o.flags.empty() ? "" : ",") + f.name;
        std::fprintf(stderr,
                     "subject %2d %-9s start %.2f mean %.3f rms %.3f p95 %.3f mm  vertex rms %.2f  "
                     "within 2sd %.1f%%  "
                     "%.2f s  %d solves %d its  res AP %.2f LAT %.2f px  off %.1f deg (twist %.1f) "
                     "%.1f mm  %s\n",
                     i, scenario.c_str(), o.start_mean_mm, o.mean_mm, o.rms_mm, o.p95_mm,
                     o.vertex_rms_mm, 100 * o.within_2sd, o.seconds, fit.solves, fit.iterations,
                     fit.views[0].median_px, fit.views[1].median_px, o.residual_deg, o.twist_deg,
                     o.residual_mm, o.flags.c_str());
        if (i < args.overlays) {
          const std::string stem = args.out + "/subject" + std::to_string(i) + "_" + scenario;
          ssm::WriteMesh(fit.mesh, stem + "_fit.ply");
          for (size_t v = 0; v < views.size(); ++v)
            WriteFileAtomically(
                stem + "_edges_" + views[v].name + ".png",
                registration::RenderEdgesPng(registration::ExtractEdges(views[v].image)));
          ssm::WriteMesh(truth, stem + "_truth.ply");
          for (size_t v = 0; v < views.size(); ++v) {
            const std::string name = args.out + "/overlay_subject" + std::to_string(i) + "_" +
                                     scenario + "_" + views[v].name + ".png";
            WriteFileAtomically(name,
                                registration::RenderFitOverlayPng(views[v], fit.initial_contours[v],
                                                                  fit.final_contours[v]));
          }
        }
        outcomes.push_back(o);
      }
    }

    // Summary per scenario.
    json root;
    root["benchmark"] = "biplanar_loo";
    root["n"] = args.n;
    root["seed"] = args.seed;
    root["modes"] = args.modes;
    root["detector"] = std::to_string(args.size) + "x" + std::to_string(args.size);
    root["ct_spacing_mm"] = args.ct_spacing;
    root["i0"] = args.i0;
    root["ct_scan_extension_mm"] = args.scan_extension;
    root["perturb_mm"] = args.perturb_mm;
    root["perturb_deg"] = args.perturb_deg;
    root["intensity_roi_mm"] = args.intensity_roi;
    root["capture_factor"] = args.capture;
    std::ostringstream md;
    md << "| scenario | subjects | median mean (mm) | median RMS (mm) | median p95 (mm) | success "
          "(mean < 2 mm) | vertices within 2 SD | median time (s) "
          "|\n|---|---|---|---|---|---|---|---|\n";
    for (const std::string& scenario : scenarios) {
      std::vector<double> mean, rms, p95, times;
      double within = 0;
      int success = 0, count = 0;
      json rows = json::array();
      for (const Outcome& o : outcomes) {
        if (o.scenario != scenario) continue;
        mean.push_back(o.mean_mm);
        rms.push_back(o.rms_mm);
        p95.push_back(o.p95_mm);
        times.push_back(o.seconds);
        within += o.within_2sd;
        success += o.mean_mm < 2.0;
        ++count;
        rows.push_back({{"subject", o.subject},
                        {"mean_mm", o.mean_mm},
                        {"rms_mm", o.rms_mm},
                        {"p95_mm", o.p95_mm},
                        {"vertex_rms_mm", o.vertex_rms_mm},
                        {"start_mean_mm", o.start_mean_mm},
                        {"within_2sd", o.within_2sd},
                        {"seconds", o.seconds},
                        {"rigid_offset_deg", o.residual_deg},
                        {"rigid_offset_mm", o.residual_mm},
                        {"flags", o.flags}});
      }
      const double rate = count ? double(success) / count : 0;
      root["scenarios"][scenario] = {{"subjects", count},
                                     {"median_mean_mm", MedianOf(mean)},
                                     {"median_rms_mm", MedianOf(rms)},
                                     {"median_p95_mm", MedianOf(p95)},
                                     {"success_rate", rate},
                                     {"within_2sd", count ? within / count : 0},
                                     {"median_seconds", MedianOf(times)},
                                     {"per_subject", rows}};
      char line[400];
      std::snprintf(line, sizeof(line),
                    "| %s | %d | %.3f | %.3f | %.3f | %.1f %% | %.1f %% | %.2f |\n",
                    scenario.c_str(), count, MedianOf(mean), MedianOf(rms), MedianOf(p95),
                    100 * rate, count ? 100 * within / count : 0.0, MedianOf(times));
      md << line;
    }
    root["seconds_total"] = Seconds(t0);
    WriteFileAtomically(args.out + "/biplanar_loo.json", root.dump(2) + "\n");
    WriteFileAtomically(args.out + "/biplanar_loo.md", md.str());
    std::cout << md.str();
    std::fprintf(stderr, "total %.1f s\n", Seconds(t0));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "biplanar_loo: error: %s\n", e.what());
    return 2;
  }
}
