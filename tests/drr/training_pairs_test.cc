// Training pairs: reproducible bytes (any worker count, partitions, resume after
// a real kill of the CLI), masks that line up with the images, landmarks that
// land on their structure, real CTs from a NIfTI file and a DICOM folder.
// Truth comes from outside the generator: the standard's mt19937_64 sequence,
// FIPS 180 digests, mask centroids, bone-only DRRs, mesh path lengths, and
// the registration library's pose reader.
#include "ssmx/drr/training_pairs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Geometry>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "../ssm/test_data.h"
#include "internal/sha256.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/mesh_projection.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/registration/pose.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/volume_io.h"

extern char** environ;

namespace ssmx::drr {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = ReadBytes(entry.path());
    }
  }
  return files;
}

void ExpectSameDataset(const std::string& a, const std::string& b) {
  const auto fa = Snapshot(a), fb = Snapshot(b);
  ASSERT_EQ(fa.size(), fb.size()) << a << " vs " << b;
  for (const auto& [name, bytes] : fa) {
    ASSERT_TRUE(fb.count(name)) << name << " missing in " << b;
    EXPECT_TRUE(bytes == fb.at(name)) << name << " differs between " << a << " and " << b;
  }
}

// A 3 mm CT (36 x 32 x 30 voxels, rotated direction cosines): a water
// cylinder with a bone ball, and a label map of the ball (+ its table).
struct SmallCase {
  std::string dir, ct, labels, landmarks;
  Eigen::Vector3d ball_center;
  double ball_radius_mm = 15.0;
};

SmallCase MakeSmallCase(const std::string& name) {
  SmallCase c;
  c.dir = ssmx::testing::TempDir(name);
  VolumeGeometry g;
  g.size = Eigen::Vector3i(36, 32, 30);
  g.spacing_mm = Eigen::Vector3d(3.0, 3.0, 3.0);
  g.origin_mm = Eigen::Vector3d(-40, -60, 20);
  g.direction = Eigen::AngleAxisd(0.2, Eigen::Vector3d(0, 0, 1)).toRotationMatrix();
  Volume ct(g, VoxelType::kInt16), labels(g, VoxelType::kInt16);
  const Eigen::Vector3d ball_ijk(20, 14, 16);  // a voxel centre: the voxelised ball is symmetric
  c.ball_center = g.IndexToWorld(ball_ijk);
  for (int k = 0; k < g.size.z(); ++k)
    for (int j = 0; j < g.size.y(); ++j)
      for (int i = 0; i < g.size.x(); ++i) {
        const Eigen::Vector3d d = Eigen::Vector3d(i, j, k) - Eigen::Vector3d(17.5, 15.5, 0);
        float hu = std::hypot(d.x(), d.y()) < 14 ? 0.0f : -1000.0f;
        if ((Eigen::Vector3d(i, j, k) - ball_ijk).norm() * 3.0 <= c.ball_radius_mm) {
          hu = 1200.0f;
          labels.Set(i, j, k, 1);
        }
        ct.Set(i, j, k, hu);
      }
  c.ct = c.dir + "/ct.mha";
  c.labels = c.dir + "/labels.nii.gz";
  c.landmarks = c.dir + "/landmarks.json";
  ssm::WriteVolume(ct, c.ct);
  ssm::WriteVolume(labels, c.labels);
  std::ofstream(c.dir + "/labels.json") << R"({"ball": 1})";
  std::ofstream(c.landmarks) << json({{"ball_center",
                                       {c.ball_center.x(), c.ball_center.y(), c.ball_center.z()}},
                                      {"far_away", {3000.0, 3000.0, 3000.0}}})
                                    .dump();
  return c;
}

TrainingPairOptions SmallOptions(const SmallCase& c) {
  TrainingPairOptions o;
  o.volumes = {c.ct};
  o.label_maps = {c.labels};
  o.landmarks = {c.landmarks};
  o.per_volume = 5;
  o.detector.rows = 40;
  o.detector.cols = 48;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 4.0;
  o.pose_jitter_mm = 12;
  o.pose_jitter_rad = 0.2;
  o.i0 = 5e4;
  o.seed = 11;
  return o;
}

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(internal::Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(internal::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(internal::Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  internal::Sha256 million;
  const std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.Update(a);
  EXPECT_EQ(million.HexDigest(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SamplePose, UsesTheStandardMt19937_64StreamAndStaysInRange) {
  // C++ [rand.predef]: the 10000th output of a default-seeded mt19937_64 is
  // 9981545732273789042; its first output is 14514284786278117030.
  std::mt19937_64 check;
  check.discard(9999);
  ASSERT_EQ(check(), 9981545732273789042ull);
  const SamplePose pose = DrawSamplePose(5489, Eigen::Vector3d(1, 2, 3), 10.0, 0.5);
  const double u = static_cast<double>(14514284786278117030ull >> 11) / 9007199254740992.0;
  EXPECT_DOUBLE_EQ(pose.translation_mm.x(), 10.0 * (2 * u - 1));
  EXPECT_EQ(pose.center_mm, Eigen::Vector3d(1, 2, 3));

  Eigen::Vector3d lo = Eigen::Vector3d::Constant(1e9), hi = -lo, sum = Eigen::Vector3d::Zero();
  const int n = 4000;
  for (int s = 0; s < n; ++s) {
    const SamplePose p = DrawSamplePose(SampleSeed(7, 0, s), Eigen::Vector3d::Zero(), 10, 0.2);
    lo = lo.cwiseMin(p.translation_mm);
    hi = hi.cwiseMax(p.translation_mm);
    sum += p.angles_rad;
    EXPECT_LE(p.angles_rad.cwiseAbs().maxCoeff(), 0.2);
  }
  // Uniform on [-10, 10): the extremes of 4000 draws are within 0.05 mm of the
  // bounds (failure probability ~ e^-10), the mean angle near 0 (SD 0.0018).
  EXPECT_GT(lo.maxCoeff(), -10.0 - 1e-12);
  EXPECT_LT(lo.maxCoeff(), -9.95);
  EXPECT_LT(hi.minCoeff(), 10.0);
  EXPECT_GT(hi.minCoeff(), 9.95);
  EXPECT_LT((sum / n).cwiseAbs().maxCoeff(), 0.01);
  EXPECT_NE(SampleSeed(7, 0, 1), SampleSeed(7, 1, 0));
  EXPECT_NE(SampleSeed(7, 0, 1), SampleSeed(8, 0, 1));
}

TEST(SamplePose, IsARotationAboutTheCentreInXYZOrder) {
  SamplePose pose;
  pose.angles_rad = Eigen::Vector3d(0.1, -0.2, 0.3);
  pose.translation_mm = Eigen::Vector3d(1, 2, 3);
  pose.center_mm = Eigen::Vector3d(10, 20, 30);
  const Eigen::Matrix4d m = pose.WorldFromCt();
  // The centre moves by the translation only.
  EXPECT_LT((m.topLeftCorner<3, 3>() * pose.center_mm + m.topRightCorner<3, 1>() -
             (pose.center_mm + pose.translation_mm))
                .norm(),
            1e-12);
  // x first: a point on the x axis through the centre is untouched by Rx.
  const Eigen::Vector3d x_axis(1, 0, 0);
  const Eigen::Vector3d expected = Eigen::AngleAxisd(0.3, Eigen::Vector3d::UnitZ()) *
                                   (Eigen::AngleAxisd(-0.2, Eigen::Vector3d::UnitY()) * x_axis);
  EXPECT_LT((pose.Rotation() * x_axis - expected).norm(), 1e-12);
}

TEST(TrainingPairs, SameSeedGivesTheSameBytesForAnyWorkerCount) {
  const SmallCase c = MakeSmallCase("pairs_same");
  TrainingPairOptions o = SmallOptions(c);
  o.workers = 1;
  const TrainingPairSummary one = GenerateTrainingPairs(c.dir + "/w1", o);
  EXPECT_EQ(one.samples_written, 5);
  o.workers = 3;
  GenerateTrainingPairs(c.dir + "/w3", o);
  ExpectSameDataset(c.dir + "/w1", c.dir + "/w3");
  // 5 samples x (pose + record + 2 views x (image + sidecar + mask + sidecar + landmarks))
  // + params, manifests, README.
  EXPECT_EQ(Snapshot(c.dir + "/w1").size(), 5u * 12 + 4);
  // Another seed: other poses, other images.
  o.seed = 12;
  GenerateTrainingPairs(c.dir + "/s12", o);
  EXPECT_NE(ReadBytes(c.dir + "/w1/v000_ct/s000000_ap.png"),
            ReadBytes(c.dir + "/s12/v000_ct/s000000_ap.png"));
  // The manifest has one row per sample and view.
  std::ifstream csv(c.dir + "/w1/manifest.csv");
  std::string line;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 1 + 5 * 2);
}

TEST(TrainingPairs, ResumesAfterLostAndDamagedFilesToTheSameBytes) {
  const SmallCase c = MakeSmallCase("pairs_resume");
  TrainingPairOptions o = SmallOptions(c);
  GenerateTrainingPairs(c.dir + "/full", o);
  fs::copy(c.dir + "/full", c.dir + "/hurt", fs::copy_options::recursive);
  const std::string hurt = c.dir + "/hurt/v000_ct/";
  fs::remove(hurt + "s000001_record.json");                             // killed before the record
  std::ofstream(hurt + "s000003_lat.png", std::ios::trunc) << "trunc";  // damaged image
  fs::remove(hurt + "s000004_ap_mask_ball.png");                        // lost mask
  fs::remove(c.dir + "/hurt/manifest.csv");
  std::ofstream(hurt + ".ssmx-tmp-99999-0-s000002_ap.png") << "partial";  // a killed writer's file
  const TrainingPairSummary resumed = GenerateTrainingPairs(c.dir + "/hurt", o);
  EXPECT_EQ(resumed.samples_written, 3);
  EXPECT_EQ(resumed.samples_skipped, 2);
  ExpectSameDataset(c.dir + "/full", c.dir + "/hurt");
}

TEST(TrainingPairs, RefusesToResumeWithOtherArguments) {
  const SmallCase c = MakeSmallCase("pairs_refuse");
  TrainingPairOptions o = SmallOptions(c);
  o.per_volume = 1;
  GenerateTrainingPairs(c.dir + "/d", o);
  o.seed = 99;
  try {
    GenerateTrainingPairs(c.dir + "/d", o);
    FAIL() << "resumed with another seed";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("different arguments"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
  }
  // A folder that is not a dataset is not written into.
  fs::create_directories(c.dir + "/other");
  std::ofstream(c.dir + "/other/notes.txt") << "mine";
  EXPECT_THROW(GenerateTrainingPairs(c.dir + "/other", o), InvalidInput);
  EXPECT_FALSE(fs::exists(c.dir + "/other/params.json"));
}

TEST(TrainingPairs, RejectsBadInputWithTheFileNamed) {
  const SmallCase c = MakeSmallCase("pairs_bad");
  TrainingPairOptions o = SmallOptions(c);
  o.per_volume = 1;
  o.label_maps = {c.labels, c.labels};
  EXPECT_THROW(GenerateTrainingPairs(c.dir + "/a", o), InvalidInput);
  o = SmallOptions(c);
  std::ofstream(c.dir + "/bad_landmarks.json") << R"({"a": [1, 2]})";
  o.landmarks = {c.dir + "/bad_landmarks.json"};
  try {
    GenerateTrainingPairs(c.dir + "/b", o);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("bad_landmarks.json"), std::string::npos);
  }
  o = SmallOptions(c);
  o.volumes = {c.dir + "/missing.nii.gz"};
  try {
    GenerateTrainingPairs(c.dir + "/c", o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.nii.gz"), std::string::npos);
  }
  o = SmallOptions(c);
  o.labels = {"no_such_label"};
  EXPECT_THROW(GenerateTrainingPairs(c.dir + "/d", o), InvalidInput);
}

TEST(TrainingPairs, PartitionsAndAManifestStepGiveTheSingleRunsBytes) {
  const SmallCase c = MakeSmallCase("pairs_parts");
  TrainingPairOptions o = SmallOptions(c);
  GenerateTrainingPairs(c.dir + "/single", o);
  o.workers = 1;
  GenerateTrainingPairSamples(c.dir + "/parts", o, 0, 3, 5);
  // The manifest refuses while samples are missing.
  EXPECT_THROW(WriteTrainingPairManifest(c.dir + "/parts", o), InvalidInput);
  GenerateTrainingPairSamples(c.dir + "/parts", o, 0, 0, 3);
  WriteTrainingPairManifest(c.dir + "/parts", o);
  ExpectSameDataset(c.dir + "/single", c.dir + "/parts");
  EXPECT_THROW(GenerateTrainingPairSamples(c.dir + "/parts", o, 1, 0, 1), InvalidInput);
  EXPECT_THROW(GenerateTrainingPairSamples(c.dir + "/parts", o, 0, 2, 9), InvalidInput);
}

// Partitions that start at the same moment in a new folder all succeed (one
// creates params.json, the others check it) and give the single run's bytes.
TEST(TrainingPairs, PartitionsStartingTogetherInANewFolderAllSucceed) {
  const SmallCase c = MakeSmallCase("pairs_race");
  TrainingPairOptions o = SmallOptions(c);
  o.workers = 1;
  GenerateTrainingPairs(c.dir + "/single", o);
  for (int round = 0; round < 12; ++round) {
    const std::string out = c.dir + "/race" + std::to_string(round);
    std::vector<std::thread> partitions;
    std::atomic<int> failures{0}, ready{0};
    for (int s = 0; s < o.per_volume; ++s) {
      partitions.emplace_back([&, s] {
        ++ready;
        while (ready < o.per_volume) std::this_thread::yield();  // start together
        try {
          GenerateTrainingPairSamples(out, o, 0, s, s + 1);
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << "partition " << s << ": " << e.what();
        }
      });
    }
    for (std::thread& t : partitions) t.join();
    ASSERT_EQ(failures, 0);
    WriteTrainingPairManifest(out, o);
    ExpectSameDataset(c.dir + "/single", out);
  }
}

TEST(TrainingPairs, LandmarksLandOnTheCentroidOfTheirStructuresMask) {
  const SmallCase c = MakeSmallCase("pairs_landmarks");
  TrainingPairOptions o = SmallOptions(c);
  o.i0.reset();
  o.format = PairImageFormat::kTiff;
  o.detector.rows = o.detector.cols = 96;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 1.5;
  o.per_volume = 3;
  GenerateTrainingPairs(c.dir + "/d", o);
  std::vector<Eigen::Vector2d> centres;
  for (int s = 0; s < 3; ++s) {
    const std::string base = c.dir + "/d/v000_ct/s00000" + std::to_string(s);
    // The pose file reads back through the registration library's reader.
    const registration::Pose pose = registration::ReadPose(base + "_pose.json");
    for (const char* view : {"ap", "lat"}) {
      const XrayImage mask = ReadXrayImage(base + "_" + view + "_mask_ball.tiff");
      double su = 0, sv = 0, n = 0;
      for (int v = 0; v < mask.image.rows; ++v)
        for (int u = 0; u < mask.image.cols; ++u)
          if (mask.image.at(v, u) > 0.5) su += u, sv += v, n += 1;
      ASSERT_GT(n, 20);
      const json lm = json::parse(ReadBytes(base + "_" + view + "_landmarks.json"));
      ASSERT_EQ(lm["landmarks"][0]["name"], "ball_center");
      const Eigen::Vector2d uv(lm["landmarks"][0]["uv_px"][0].get<double>(),
                               lm["landmarks"][0]["uv_px"][1].get<double>());
      EXPECT_NEAR(uv.x(), su / n, 0.35) << base << " " << view;
      EXPECT_NEAR(uv.y(), sv / n, 0.35) << base << " " << view;
      EXPECT_TRUE(lm["landmarks"][0]["in_image"].get<bool>());
      EXPECT_FALSE(lm["landmarks"][1]["in_image"].get<bool>());  // far_away
      // The sidecar's matrix is the named view composed with the pose.
      const ProjectionGeometry named = ProjectionGeometry::Named(
          ParseNamedView(view), DefaultIsocenter(ssm::ReadVolume(c.ct).volume.geometry()),
          o.detector);
      const Eigen::Vector2d direct = named.Project(pose.Apply(c.ball_center));
      EXPECT_LT((direct - uv).norm(), 1e-6);
      if (std::string(view) == "ap") centres.push_back(uv);
    }
  }
  // The jitter moves the ball from sample to sample (12 mm at 1.43x, 1.5 mm pixels).
  EXPECT_GT((centres[0] - centres[1]).norm() + (centres[1] - centres[2]).norm(), 2.0);
}

double Iou(const Image2D& a, const Image2D& b, double threshold_a, double threshold_b) {
  int64_t both = 0, either = 0;
  for (size_t n = 0; n < a.pixels.size(); ++n) {
    const bool x = a.pixels[n] > threshold_a, y = b.pixels[n] > threshold_b;
    both += x && y;
    either += x || y;
  }
  return either ? static_cast<double>(both) / either : 1.0;
}

// Every mask of a dataset against the support of the bone-only DRR of `ct`
// restricted to `label_mask`, on the geometry read from the mask's sidecar.
// Real segmentations include a few voxels at or below -1000 HU (outside the
// reconstruction circle: 5 of the 2372 femur_left voxels of the TotalSegmentator
// CT), whose mu is 0, so they vanish from a bone-only DRR while the label
// covers them: `count_air` gives those voxels a small mu (1e-4 /mm) first.
void ExpectMasksMatchBoneOnlyDrrs(const std::string& dataset, const Volume& ct,
                                  const Volume& label_mask, const std::string& label, int samples,
                                  bool count_air = false) {
  Volume mu(ct.geometry(), VoxelType::kFloat32);
  for (int k = 0; k < ct.geometry().size.z(); ++k)
    for (int j = 0; j < ct.geometry().size.y(); ++j)
      for (int i = 0; i < ct.geometry().size.x(); ++i) {
        if (label_mask.At(i, j, k) == 0) continue;
        const float value = AttenuationFromHounsfield(ct.At(i, j, k), kDefaultMuWaterPerMm);
        mu.Set(i, j, k, count_air ? std::max(value, 1e-4f) : value);
      }
  const PreparedVolume bone_only = PreparedVolume::FromAttenuation(mu);
  const json manifest = json::parse(ReadBytes(dataset + "/manifest.json"));
  ASSERT_EQ(manifest["samples"].size(), static_cast<size_t>(samples));
  for (const json& sample : manifest["samples"]) {
    for (const json& view : sample["views"]) {
      const json& m = view["masks"][0];
      ASSERT_EQ(m["label"], label);
      const XrayImage mask = ReadXrayImage(dataset + "/" + m["file"].get<std::string>());
      const Image2D drr = Project(bone_only, mask.sidecar.geometry);
      const double iou = Iou(mask.image, drr, 0.5, 0.0);
      EXPECT_GE(iou, 0.99) << m["file"];
      int64_t inside = 0;
      for (float p : mask.image.pixels) inside += p > 0.5;
      EXPECT_GT(inside, 10) << m["file"] << ": empty mask";
    }
  }
}

TEST(TrainingPairs, PhantomBoneMaskIsTheSupportOfTheBoneOnlyDrr) {
  const std::string dir = ssmx::testing::TempDir("pairs_phantom");
  const ssm::PhantomFemur femur(ssm::MeanFemurParameters(ssm::BodySide::kRight));
  ssm::PhantomCtOptions ct_options;
  ct_options.spacing_mm = 3.0;
  const Volume ct = ssm::SynthesizePhantomCt(femur, ct_options);
  // The bone label as in `ssmx demo`: CT voxels above 250 HU.
  Volume bone(ct.geometry(), VoxelType::kInt16);
  for (int64_t n = 0; n < ct.num_voxels(); ++n)
    bone.data<int16_t>()[n] = ct.data<int16_t>()[n] > 250 ? 1 : 0;
  ssm::WriteVolume(ct, dir + "/femur_ct.nii.gz");
  ssm::WriteVolume(bone, dir + "/femur_labels.nii.gz");
  std::ofstream(dir + "/femur_labels.json") << R"({"femur": 1})";
  TrainingPairOptions o;
  o.volumes = {dir + "/femur_ct.nii.gz"};
  o.label_maps = {dir + "/femur_labels.nii.gz"};
  o.per_volume = 2;
  o.detector.rows = 96;
  o.detector.cols = 48;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 7.0;
  o.format = PairImageFormat::kTiff;
  GenerateTrainingPairs(dir + "/d", o);
  ExpectMasksMatchBoneOnlyDrrs(dir + "/d", ct, bone, "femur", 2);

  // Independently of the voxel projector: the mesh of the implicit femur,
  // rasterised on the same geometry, covers nearly the same pixels (0.90
  // measured; the pixels are 4.9 mm at the isocentre, so the outline of the
  // 3 mm voxel label and the mesh's (path > 3 mm) differ by about a pixel).
  ssm::PhantomMeshOptions mesh_options;
  mesh_options.spacing_mm = 2.0;
  mesh_options.target_faces = 6000;
  const TriangleMesh mesh = ssm::MeshPhantomFemur(femur, mesh_options);
  const XrayImage mask = ReadXrayImage(dir + "/d/v000_femur_ct/s000001_lat_mask_femur.tiff");
  const Image2D mesh_path = ProjectMeshPathLength(mesh, mask.sidecar.geometry);
  const double mesh_iou = Iou(mask.image, mesh_path, 0.5, 3.0);
  EXPECT_GE(mesh_iou, 0.85) << "mesh IoU " << mesh_iou;
}

TEST(TrainingPairs, RealNiftiCtWithTotalSegmentatorMasks) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/example_ct.nii.gz");
  const std::string dir = ssmx::testing::TempDir("pairs_real_nifti");
  TrainingPairOptions o;
  o.volumes = {ssmx::testing::DataPath("ct/totalseg_abdomen/example_ct.nii.gz")};
  o.label_maps = {ssmx::testing::DataPath("ct/totalseg_abdomen/labels")};
  o.labels = {"femur_left"};
  o.per_volume = 2;
  o.detector.rows = o.detector.cols = 64;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 8.0;
  o.format = PairImageFormat::kTiff;
  GenerateTrainingPairs(dir + "/d", o);
  const Volume ct = ssm::ReadVolume(o.volumes[0]).volume;
  const Volume mask = ssm::ReadLabelMask(o.label_maps[0], "femur_left");
  ExpectMasksMatchBoneOnlyDrrs(dir + "/d", ct, mask, "femur_left", 2, /*count_air=*/true);
}

TEST(TrainingPairs, RealDicomFolderWithALabelMap) {
  SSMX_REQUIRE_DATA("dicom/totalseg_abdomen_j2k_empty_uids");
  const std::string dir = ssmx::testing::TempDir("pairs_real_dicom");
  const std::string series = ssmx::testing::DataPath("dicom/totalseg_abdomen_j2k_empty_uids");
  // A bone label map on the series' grid, made by thresholding the read CT.
  const Volume ct = ssm::ReadVolume(series).volume;
  Volume bone(ct.geometry(), VoxelType::kInt16);
  for (int k = 0; k < ct.geometry().size.z(); ++k)
    for (int j = 0; j < ct.geometry().size.y(); ++j)
      for (int i = 0; i < ct.geometry().size.x(); ++i)
        bone.Set(i, j, k, ct.At(i, j, k) > 200 ? 1 : 0);
  ssm::WriteVolume(bone, dir + "/bone.nii.gz");
  std::ofstream(dir + "/bone.json") << R"({"bone": 1})";
  TrainingPairOptions o;
  o.volumes = {series};
  o.label_maps = {dir + "/bone.nii.gz"};
  o.per_volume = 2;
  o.detector.rows = o.detector.cols = 64;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 8.0;
  o.format = PairImageFormat::kTiff;
  GenerateTrainingPairs(dir + "/d", o);
  ExpectMasksMatchBoneOnlyDrrs(dir + "/d", ct, bone, "bone", 2);
  EXPECT_TRUE(fs::exists(dir + "/d/v000_totalseg_abdomen_j2k_empty_uids/s000001_lat.tiff"));
}

// Runs the CLI; returns its pid (posix_spawn).
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TrainingPairsCli, ResumeAfterAKillGivesTheUninterruptedBytes) {
  const SmallCase c = MakeSmallCase("pairs_kill");
  const auto command = [&](const std::string& out, const std::string& workers) {
    return std::vector<std::string>{SSMX_CLI_PATH, "pairs",           c.ct,        "--out",
                                    out,           "--per-volume",    "60",        "--size",
                                    "64x64",       "--pixel-spacing", "3",         "--labels",
                                    c.labels,      "--landmarks",     c.landmarks, "--i0",
                                    "1e4",         "--seed",          "3",         "--workers",
                                    workers};
  };
  ASSERT_EQ(Wait(Spawn(command(c.dir + "/whole", "2"))), 0);
  const std::string killed = c.dir + "/killed";
  const pid_t pid = Spawn(command(killed, "1"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(killed + "/v000_ct/s000003_record.json") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  Wait(pid);
  int records = 0;
  for (const auto& e : fs::directory_iterator(killed + "/v000_ct"))
    records += e.path().string().find("_record.json") != std::string::npos;
  EXPECT_FALSE(fs::exists(killed + "/manifest.csv")) << "the run finished before the kill";
  EXPECT_LT(records, 60);
  EXPECT_GE(records, 4);
  ASSERT_EQ(Wait(Spawn(command(killed, "3"))), 0);
  ExpectSameDataset(c.dir + "/whole", killed);
  // Other arguments into the same folder: exit 2, nothing changed.
  auto other = command(killed, "1");
  other[other.size() - 3] = "4";  // --seed 4
  EXPECT_EQ(Wait(Spawn(other)), 2);
  ExpectSameDataset(c.dir + "/whole", killed);
}

}  // namespace
}  // namespace ssmx::drr
