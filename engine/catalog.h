// What the engine can train, without LibTorch: the built-in data sets (their parameters, sample
// shapes and classes) and the architectures (their defaults and the shapes they take). The
// coordinator's sweep parser validates against this alone; the engine builds from it. Immutable
// tables; thread-safe.
//
// Shapes here are a sample's shape as users write it, channels first: {C, L} for series
// (the telemetry is {16, 64}), {C, H, W} for images ({1, 28, 28}). The engine's tensors are
// channels-last; EngineShape converts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::engine {

// An architecture as a sweep gives it; ResolveArch fills the defaults.
struct ArchSpec {
  std::string name = "cnn1d";
  std::vector<int64_t> channels;  // Conv output channels; default per architecture.
  int64_t kernel_size = 5;
  std::vector<int64_t> hidden;  // Hidden fully-connected widths (lenet); default per architecture.
};

// A numeric parameter's valid range.
struct ParamRule {
  double min;
  double max;
  bool integer;
};

// A data set the engine generates or reads itself (the simulator, Fashion-MNIST). Each becomes a
// stored data set version when a sweep first uses it with a given set of parameters.
struct BuiltinDataset {
  std::string name;
  std::string description;
  std::map<std::string, ParamRule> params;
  std::vector<int64_t> shape;        // One sample, channels first.
  std::vector<std::string> classes;  // Class names; label i is classes[i].
};

// What a model kind minimises in training (and reports as its loss): cross-entropy of the softmax
// of its outputs, or the multiclass hinge loss of a support vector machine (Crammer and Singer:
// max(0, 1 + the largest other class's score - the true class's)).
enum class TrainingLoss { kCrossEntropy, kHinge };

// How a model kind learns: by its optimizer on the gradient of its loss, or by counting
// (multinomial naive Bayes: per class, the sums of its features' counts over the samples it draws,
// and from them its log-probabilities; engine/trainer.h).
enum class Fitting { kGradient, kNaiveBayes };

// An architecture kind: which samples it takes, its defaults, its loss and how it learns.
struct ArchitectureKind {
  std::string name;
  std::string description;
  int64_t spatial_dims;  // 1: series {C, L}; 2: images {C, H, W}; 0: any (flattened).
  std::vector<int64_t> default_channels;
  std::vector<int64_t> default_hidden;  // Empty: the architecture takes no hidden widths.
  int64_t pools;                        // Max-pools that halve the extent (for the size check).
  bool square_only;                     // Images must be square.
  TrainingLoss loss = TrainingLoss::kCrossEntropy;
  Fitting fitting = Fitting::kGradient;
};

// The built-ins, registered in one place (catalog.cc), in a stable order.
// The optimisers and step-size schedules a model may train with (engine/optimizer.h has the
// update rules), by the names sweep files use: "sgd", "adam", "adamw"; "constant", "cosine",
// "step", in this order.
enum class OptimizerKind { kSgd, kAdam, kAdamW };
enum class RateSchedule { kConstant, kCosine, kStep };
const std::vector<std::string>& OptimizerNames();
const std::vector<std::string>& ScheduleNames();
StatusOr<OptimizerKind> ParseOptimizer(const std::string& name);
StatusOr<RateSchedule> ParseSchedule(const std::string& name);
std::string NameOf(OptimizerKind kind);
std::string NameOf(RateSchedule schedule);

const std::vector<BuiltinDataset>& BuiltinDatasets();
const std::vector<ArchitectureKind>& Architectures();

const BuiltinDataset* FindBuiltinDataset(const std::string& name);
const ArchitectureKind* FindArchitecture(const std::string& name);
// "cnn1d, cnn2d, lenet": for error messages.
std::string ArchitectureNames();
std::string BuiltinDatasetNames();

// Dataset parameters as given in a sweep (`dataset.params`), all numeric.
using DatasetParams = std::map<std::string, double>;
Status ValidateDatasetParams(const std::string& name, const DatasetParams& params);

// {C, L} -> {L, C}; {C, H, W} -> {H, W, C}.
std::vector<int64_t> EngineShape(const std::vector<int64_t>& shape);
// The inverse.
std::vector<int64_t> ChannelsFirstShape(const std::vector<int64_t>& engine_shape);

// Fills defaults and checks the spec against one sample's shape (channels first). The error
// says why the architecture cannot take such samples and what would.
StatusOr<ArchSpec> ResolveArch(ArchSpec spec, const std::vector<int64_t>& shape);

}  // namespace sweepfarm::engine
