#include "coordinator/api/work_signal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sweepfarm::api {
namespace {

using Clock = std::chrono::steady_clock;
using Woken = WorkSignal::Woken;

TEST(WorkSignalTest, NotifyWakesEveryWaiter) {
  WorkSignal signal(8);
  const uint64_t seen = signal.generation();
  std::atomic<int> notified{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      if (signal.Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr) == Woken::kNotified) {
        ++notified;
      }
    });
  }
  while (signal.waiters() < 3) std::this_thread::yield();
  signal.Notify();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(notified, 3);
  EXPECT_EQ(signal.waiters(), 0);
}

TEST(WorkSignalTest, ANotifyBeforeTheWaitIsNotMissed) {
  WorkSignal signal(8);
  const uint64_t seen = signal.generation();
  signal.Notify();  // Between reading the queue and waiting.
  EXPECT_EQ(signal.Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr), Woken::kNotified);
}

TEST(WorkSignalTest, EndsAtItsDeadlineOrWhenTheCallerGoes) {
  WorkSignal signal(8);
  const uint64_t seen = signal.generation();
  EXPECT_EQ(signal.Wait(seen, Clock::now() + std::chrono::milliseconds(20), nullptr),
            Woken::kTimedOut);
  EXPECT_EQ(signal.Wait(seen, Clock::now() - std::chrono::seconds(1), nullptr), Woken::kTimedOut);
  EXPECT_EQ(signal.Wait(seen, Clock::now() + std::chrono::seconds(60), [] { return true; }),
            Woken::kCancelled);
}

TEST(WorkSignalTest, BoundsTheWaitersAndStopsForGood) {
  WorkSignal signal(1);
  const uint64_t seen = signal.generation();
  Woken first = Woken::kTimedOut;
  std::thread waiter(
      [&] { first = signal.Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr); });
  while (signal.waiters() < 1) std::this_thread::yield();
  // The one place is taken: a second caller answers at once.
  EXPECT_EQ(signal.Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr), Woken::kBusy);
  signal.Stop();
  waiter.join();
  EXPECT_EQ(first, Woken::kStopped);
  EXPECT_EQ(signal.Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr), Woken::kStopped);
  EXPECT_EQ(WorkSignal(0).Wait(seen, Clock::now() + std::chrono::seconds(60), nullptr),
            Woken::kBusy);
}

}  // namespace
}  // namespace sweepfarm::api
