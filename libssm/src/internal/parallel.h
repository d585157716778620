#ifndef SSMX_SSM_INTERNAL_PARALLEL_H_
#define SSMX_SSM_INTERNAL_PARALLEL_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

namespace ssmx::internal {

// Number of worker threads for data-parallel loops: $SSMX_NUM_THREADS when it
// is a positive integer, else the hardware concurrency (at least 1).
inline int WorkerCount() {
  if (const char* env = std::getenv("SSMX_NUM_THREADS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return static_cast<int>(std::min(n, 1024L));
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Calls body(begin, end) on contiguous chunks of [0, n) from up to
// WorkerCount() threads and waits for all of them. The chunks are fixed by n
// and the thread count alone, so a body that writes only its own range gives
// the same bytes on every run. The first exception thrown by a body is
// rethrown after every thread has joined.
template <typename Body>
void ParallelFor(int64_t n, int64_t min_chunk, const Body& body) {
  if (n <= 0) return;
  const int64_t threads =
      std::min<int64_t>(WorkerCount(), std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk)));
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    pool.emplace_back([&, t, begin, end] {
      try {
        body(begin, end);
      } catch (...) {
        errors[static_cast<size_t>(t)] = std::current_exception();
      }
    });
  }
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_PARALLEL_H_
