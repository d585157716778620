#ifndef SSMX_DRR_INTERNAL_PARALLEL_H_
#define SSMX_DRR_INTERNAL_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ssmx::drr::internal {

// Number of worker threads for a request of `requested` (0 = every core, or
// $SSMX_NUM_THREADS when it is a positive integer, as everywhere in ssmx).
inline int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  if (const char* env = std::getenv("SSMX_NUM_THREADS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return static_cast<int>(std::min(n, 1024L));
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

// Runs task(i) for i in [0, count) on `threads` threads that take tasks from a
// shared counter (dynamic load balance). The first exception thrown by a task
// is rethrown in the caller after every thread has stopped.
template <typename Task>
void ParallelFor(int64_t count, int threads, const Task& task) {
  threads = static_cast<int>(std::min<int64_t>(std::max(threads, 1), std::max<int64_t>(count, 1)));
  if (threads <= 1) {
    for (int64_t i = 0; i < count; ++i) task(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&]() {
    for (int64_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(count);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ssmx::drr::internal

#endif  // SSMX_DRR_INTERNAL_PARALLEL_H_
