// Long polling for LeaseWork: a call that finds nothing queued may wait for work to appear, and
// whatever may queue trials (a sweep submitted or extended, results that open a round or retry a
// trial, leases handed back or expired) wakes the waiters. At most `max_waiters` calls wait at
// once (each holds a server thread); the rest answer at once and their workers poll as before.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace sweepfarm::api {

class WorkSignal {
 public:
  enum class Woken { kNotified, kTimedOut, kStopped, kBusy, kCancelled };

  explicit WorkSignal(int max_waiters) : max_waiters_(max_waiters) {}

  // Something may have been queued: wakes every waiter.
  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  // Shutdown: wakes every waiter for good; later waits return kStopped at once.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  // Read before looking at the queue, then passed to Wait: a Notify in between is not missed.
  uint64_t generation() const {
    std::lock_guard<std::mutex> lock(mu_);
    return generation_;
  }
  // Waits until a Notify after `seen`, Stop, `until`, or `cancelled()` (polled every 100 ms: the
  // caller went away). kBusy when max_waiters calls already wait.
  Woken Wait(uint64_t seen, std::chrono::steady_clock::time_point until,
             const std::function<bool()>& cancelled) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) return Woken::kStopped;
    if (waiters_ >= max_waiters_) return Woken::kBusy;
    ++waiters_;
    Woken why = Woken::kTimedOut;
    while (true) {
      if (stopped_) {
        why = Woken::kStopped;
        break;
      }
      if (generation_ != seen) {
        why = Woken::kNotified;
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) break;
      if (cancelled && cancelled()) {
        why = Woken::kCancelled;
        break;
      }
      cv_.wait_until(lock, std::min(until, now + std::chrono::milliseconds(100)));
    }
    --waiters_;
    return why;
  }
  int waiters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiters_;
  }

 private:
  const int max_waiters_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  int waiters_ = 0;
  bool stopped_ = false;
};

}  // namespace sweepfarm::api
