// sweepfarm-worker: pulls bundles of trials from the coordinator and trains them fused on one
// device.
#include <torch/torch.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/build_info.h"
#include "common/flags.h"
#include "common/logging.h"
#include "worker/worker.h"

using namespace sweepfarm;

namespace {
worker::Worker* g_worker = nullptr;
void OnSignal(int) {
  if (g_worker) g_worker->Stop();
}
}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "coordinator HOST:PORT")
      .Define("device", "cpu", "cpu or cuda")
      .Define("capacity", "64", "most trials one slot leases at once (trained fused)")
      .Define("slots", "1", "bundles in flight at once on the device")
      .Define("max-fused", "0", "most models fused in one bundle (0: what device memory holds)")
      .Define("cpu-fuse", "1",
              "CPUs: models trained fused together (1: one at a time with the standard layers, "
              "the fastest measured on CPUs)")
      .Define("threads", "0", "CPU threads for training (0: LibTorch's default)")
      .Define("drain-seconds", "60", "after SIGTERM, how long the bundle in hand may finish")
      .Define("trainer", "real",
              "real, or fake: no training, deterministic results (control plane)")
      .Define("fake-train-ms", "0", "fake trainer: time per bundle")
      .Define("upload-top", "3", "upload the weights of each bundle's best N trials")
      .Define("cache-dir", "",
              "where fetched data sets are kept by their sha256 (default: "
              "$XDG_CACHE_HOME/sweepfarm/datasets or ~/.cache/sweepfarm/datasets)")
      .Define("kernels", "auto",
              "auto, or step: the fused kernels (the whole step of cnn1d, the convolutions of "
              "lenet) where they fit")
      .DefineBool("exit-when-idle", "exit once no work is queued");
  DefineSecurityFlags(&flags, SecurityRole::kClient);
  if (Status s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "sweepfarm-worker: " << s.message() << "\n";
    return 2;
  }
  if (flags.version()) {
    std::cout << VersionLine("sweepfarm-worker") << "\n";
    return 0;
  }
  if (flags.help()) {
    std::cout << "usage: sweepfarm-worker --coordinator HOST:PORT [--device cpu|cuda] [flags]\n"
              << flags.Usage();
    return 0;
  }
  SetLogPrefix("worker");
  worker::WorkerOptions o;
  auto coordinator = flags.GetAddress("coordinator");
  if (!coordinator.ok()) {
    std::cerr << "sweepfarm-worker: " << coordinator.status().message() << "\n";
    return 2;
  }
  o.coordinator = *coordinator;
  auto security = LoadTransportSecurity(flags, SecurityRole::kClient);
  if (!security.ok()) {
    std::cerr << "sweepfarm-worker: " << security.status().message() << "\n";
    return 2;
  }
  o.security = std::move(security).value();
  o.device = flags.Get("device");
  if (o.device != "cpu" && o.device != "cuda") {
    std::cerr << "sweepfarm-worker: --device must be cpu or cuda\n";
    return 2;
  }
  if (o.device == "cuda" && !torch::cuda::is_available()) {
    std::cerr << "sweepfarm-worker: --device cuda, but LibTorch sees no CUDA device\n";
    return 1;
  }
  auto cap = flags.GetInt("capacity");
  auto threads = flags.GetInt("threads");
  if (!cap.ok() || *cap < 1 || *cap > 8192 || !threads.ok() || *threads < 0) {
    std::cerr << "sweepfarm-worker: --capacity must be in [1, 8192] and --threads >= 0\n";
    return 2;
  }
  o.capacity = static_cast<int>(*cap);
  auto slots = flags.GetInt("slots");
  auto max_fused = flags.GetInt("max-fused");
  if (!slots.ok() || *slots < 1 || *slots > 64 || !max_fused.ok() || *max_fused < 0) {
    std::cerr << "sweepfarm-worker: --slots must be in [1, 64] and --max-fused >= 0\n";
    return 2;
  }
  o.slots = static_cast<int>(*slots);
  o.max_fused = *max_fused;
  auto cpu_fuse = flags.GetInt("cpu-fuse");
  if (!cpu_fuse.ok() || *cpu_fuse < 1 || *cpu_fuse > 1024) {
    std::cerr << "sweepfarm-worker: --cpu-fuse must be in [1, 1024]\n";
    return 2;
  }
  o.cpu_fuse = static_cast<int>(*cpu_fuse);
  o.exit_when_idle = flags.GetBool("exit-when-idle");
  if (flags.Get("kernels") != "auto" && flags.Get("kernels") != "step") {
    std::cerr << "sweepfarm-worker: --kernels must be auto or step\n";
    return 2;
  }
  o.step_kernel = flags.Get("kernels") == "step";
  auto drain = flags.GetInt("drain-seconds");
  auto fake_ms = flags.GetInt("fake-train-ms");
  o.trainer = flags.Get("trainer");
  if (!drain.ok() || *drain < 0 || !fake_ms.ok() || *fake_ms < 0 ||
      (o.trainer != "real" && o.trainer != "fake")) {
    std::cerr << "sweepfarm-worker: --drain-seconds and --fake-train-ms need integers >= 0, "
                 "--trainer real or fake\n";
    return 2;
  }
  o.drain_seconds = static_cast<int>(*drain);
  o.fake_train_ms = static_cast<int>(*fake_ms);
  auto upload = flags.GetInt("upload-top");
  if (!upload.ok() || *upload < 0) {
    std::cerr << "sweepfarm-worker: --upload-top must be an integer >= 0\n";
    return 2;
  }
  o.upload_top = static_cast<int>(*upload);
  o.cache_dir = flags.Get("cache-dir");
  if (o.cache_dir.empty()) {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    o.cache_dir = xdg != nullptr && *xdg != '\0' ? std::string(xdg) + "/sweepfarm/datasets"
                  : home != nullptr && *home != '\0'
                      ? std::string(home) + "/.cache/sweepfarm/datasets"
                      : "/tmp/sweepfarm-datasets";
  }
  if (*threads > 0) {
    torch::set_num_threads(static_cast<int>(*threads));
    torch::set_num_interop_threads(1);
  }
  worker::Worker w(o);
  g_worker = &w;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  Status s = w.Run();
  if (!s.ok()) {
    std::cerr << "sweepfarm-worker: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}
