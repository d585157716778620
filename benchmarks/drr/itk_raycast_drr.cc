// The peer DRR of compare_plastimatch.py's ITK step: ITK's
// RayCastInterpolateImageFunction under a ResampleImageFilter (as in ITK's
// DigitallyReconstructedRadiograph1 example), on a detector laid out exactly
// like an ssmx view. Only ITK headers here: ITK's bundled Eigen must not meet
// the system Eigen, so this program exchanges plain numbers on its command line.
//
//   itk_raycast_drr MU.mha OUT.mha COLS ROWS DU DV SX SY SZ OX OY OZ UX UY UZ VX VY VZ [THREADS]
//
// MU.mha: attenuation in 1/mm (float), identity direction (ITK's ray caster
// ignores direction cosines). S: the source; O: the centre of detector pixel
// (0, 0); U, V: unit vectors along which the column and the row index grow.
// The output pixel (u, v) is the integral of the trilinearly interpolated mu
// (RayCastInterpolateImageFunction: bilinear in each crossed voxel plane, times
// the distance between planes) along the line through S and the pixel centre.
// Prints {"seconds": ...}: the time of the projection alone.
#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkMetaImageIOFactory.h>
#include <itkMultiThreaderBase.h>
#include <itkRayCastInterpolateImageFunction.h>
#include <itkResampleImageFilter.h>
#include <itkTranslationTransform.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace {

using Image = itk::Image<float, 3>;

int Run(int argc, char** argv) {
  if (argc < 19) {
    std::fprintf(stderr,
                 "usage: itk_raycast_drr MU.mha OUT.mha COLS ROWS DU DV SX SY SZ OX OY OZ UX UY UZ "
                 "VX VY VZ [THREADS]\n");
    return 2;
  }
  const auto number = [&](int i) { return std::atof(argv[i]); };
  const int cols = std::atoi(argv[3]), rows = std::atoi(argv[4]);
  if (cols < 1 || rows < 1) {
    std::fprintf(stderr, "itk_raycast_drr: COLS and ROWS must be positive\n");
    return 2;
  }
  itk::MetaImageIOFactory::RegisterOneFactory();
  if (argc > 19) itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(std::atoi(argv[19]));

  auto reader = itk::ImageFileReader<Image>::New();
  reader->SetFileName(argv[1]);
  reader->Update();
  Image::Pointer mu = reader->GetOutput();

  // The detector as a one-slice image: index (u, v, 0) lies at O + u du U + v dv V.
  Image::DirectionType direction;
  const double u_axis[3] = {number(13), number(14), number(15)};
  const double v_axis[3] = {number(16), number(17), number(18)};
  const double w_axis[3] = {u_axis[1] * v_axis[2] - u_axis[2] * v_axis[1],
                            u_axis[2] * v_axis[0] - u_axis[0] * v_axis[2],
                            u_axis[0] * v_axis[1] - u_axis[1] * v_axis[0]};
  for (int r = 0; r < 3; ++r) {
    direction(r, 0) = u_axis[r];
    direction(r, 1) = v_axis[r];
    direction(r, 2) = w_axis[r];
  }
  Image::SpacingType spacing;
  spacing[0] = number(5);
  spacing[1] = number(6);
  spacing[2] = 1.0;
  Image::PointType origin;
  for (int r = 0; r < 3; ++r) origin[r] = number(10 + r);
  Image::SizeType size;
  size[0] = cols;
  size[1] = rows;
  size[2] = 1;

  auto transform = itk::TranslationTransform<double, 3>::New();  // identity
  auto interpolator = itk::RayCastInterpolateImageFunction<Image, double>::New();
  interpolator->SetTransform(transform);
  interpolator->SetThreshold(0.0);
  itk::RayCastInterpolateImageFunction<Image, double>::InputPointType focal;
  for (int r = 0; r < 3; ++r) focal[r] = number(7 + r);
  interpolator->SetFocalPoint(focal);

  auto resample = itk::ResampleImageFilter<Image, Image>::New();
  resample->SetInput(mu);
  resample->SetTransform(transform);
  resample->SetInterpolator(interpolator);
  resample->SetDefaultPixelValue(0);
  resample->SetSize(size);
  resample->SetOutputSpacing(spacing);
  resample->SetOutputOrigin(origin);
  resample->SetOutputDirection(direction);

  const auto start = std::chrono::steady_clock::now();
  resample->Update();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetFileName(argv[2]);
  writer->SetInput(resample->GetOutput());
  writer->Update();
  std::printf("{\"seconds\": %.6f, \"threads\": %d}\n", seconds,
              static_cast<int>(itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "itk_raycast_drr: %s\n", e.what());
    return 1;
  }
}
