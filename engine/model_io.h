// Model weights as stored artifacts ("sweepfarm-weights-v1"), and ensembles rebuilt from them for
// prediction. An artifact is the architecture as JSON (what is needed to rebuild the model) plus
// the raw float32 little-endian parameters of one model in the fused layout; its sha256 covers the
// parameter bytes and is checked on every load. Functions are reentrant; an EnsembleModel is
// immutable after creation and may be used from several threads.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/architecture.h"
#include "engine/dataset.h"

namespace sweepfarm::engine {

inline constexpr char kWeightsFormat[] = "sweepfarm-weights-v1";
// A training checkpoint (successive halving resumes promoted trials from it): a weights artifact
// whose "tensors" list the parameters and then the SGD momentum buffers, of the same shapes.
inline constexpr char kCheckpointFormat[] = "sweepfarm-checkpoint-v1";

// What a model takes and gives: the data it was trained for, one sample's shape, its classes,
// and the standardisation it applies to raw inputs (empty: none; artifacts before it had none).
struct ModelInputs {
  std::string dataset;                // The dataset the model was trained for (its inputs).
  std::vector<int64_t> sample_shape;  // One input sample, channels-last.
  int64_t classes = 2;
  std::vector<float> input_mean;  // Per channel.
  std::vector<float> input_std;
  bool operator==(const ModelInputs& o) const {
    return sample_shape == o.sample_shape && classes == o.classes && input_mean == o.input_mean &&
           input_std == o.input_std;
  }
};

// What a model trained on `data` takes (its standardisation included).
ModelInputs InputsOf(const Dataset& data);

struct ModelWeights {
  ArchSpec arch;
  ModelInputs inputs;
  std::vector<torch::Tensor> params;    // FusedNet::params() of one model (no leading K), float32.
  std::vector<torch::Tensor> momentum;  // Checkpoints only: the momentum, as params.
};

struct EncodedWeights {
  std::string arch_json;
  std::string content;
  std::string sha256;  // Of content, lowercase hex.
};

// Model `slot` of a trained bundle's final parameters ([K, ...] each).
EncodedWeights EncodeWeights(const ArchSpec& arch, const ModelInputs& inputs,
                             const std::vector<torch::Tensor>& bundle_params, int64_t slot);

// Model `slot`'s parameters and momentum ([K, ...] each) as a kCheckpointFormat artifact.
EncodedWeights EncodeCheckpoint(const ArchSpec& arch, const ModelInputs& inputs,
                                const std::vector<torch::Tensor>& bundle_params,
                                const std::vector<torch::Tensor>& bundle_momentum, int64_t slot);

// Either format. Verifies `content` against `sha256` first (DATA_LOSS on a mismatch, naming both
// digests), then rebuilds the parameters and checks them against the architecture.
StatusOr<ModelWeights> DecodeWeights(const std::string& format, const std::string& arch_json,
                                     const std::string& content, const std::string& sha256);

class EnsembleModel;

// One member of a stored ensemble: its weight and its artifact as stored.
struct MemberArtifact {
  int64_t trial_id = 0;
  double weight = 1;
  std::string format;
  std::string arch_json;
  std::string content;
  std::string sha256;
};

// Decodes every member (verifying each sha256) and builds the ensemble; errors say `what`
// (e.g. "detector v3") and the member's trial.
StatusOr<EnsembleModel> LoadEnsemble(const std::vector<MemberArtifact>& members,
                                     const std::string& what);

// The labels served for class probabilities [N, classes]: the argmax (threshold 0), or for a
// binary model with a decision threshold in (0, 1), class 1 exactly where its probability exceeds
// the threshold (a registered version's tuned or configured threshold). [N] int64.
torch::Tensor DecideLabels(const torch::Tensor& probs, double threshold);

// A weighted average of member models' class probabilities, evaluated as one fused network per
// architecture among the members (one for a sweep that did not search architectures).
class EnsembleModel {
 public:
  // Members must share inputs (shape, classes, standardisation); they may differ in architecture
  // (channels, kernel size, hidden widths). Weights are normalised to sum to 1.
  static StatusOr<EnsembleModel> Create(const std::vector<ModelWeights>& members,
                                        const std::vector<double>& weights);

  // x: [N, sample...] float32 channels-last, raw (the model standardises it as it was trained
  // to). Returns class probabilities [N, classes].
  torch::Tensor Predict(const torch::Tensor& x) const;
  // Per-member probabilities [K, N, classes].
  torch::Tensor PredictMembers(const torch::Tensor& x) const;

  const std::vector<int64_t>& sample_shape() const { return inputs_.sample_shape; }
  int64_t classes() const { return inputs_.classes; }
  const ModelInputs& inputs() const { return inputs_; }
  int64_t size() const { return size_; }
  // Fused networks evaluated per prediction: the members' distinct architectures.
  int64_t architectures() const { return static_cast<int64_t>(groups_.size()); }

 private:
  struct Group {
    FusedNet net;
    torch::Tensor members;  // [k] int64: the group's members' positions in the ensemble.
  };
  std::vector<Group> groups_;
  torch::Tensor weights_;  // [K] float32.
  ModelInputs inputs_;
  torch::Tensor mean_, std_;  // [C] float32, or undefined: raw inputs.
  int64_t size_ = 0;
};

}  // namespace sweepfarm::engine
