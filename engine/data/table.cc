#include "engine/data/table.h"

#include <cmath>
#include <set>

namespace sweepfarm::data {

const char* SplitName(SplitId split) {
  switch (split) {
    case SplitId::kTrain:
      return "train";
    case SplitId::kSelection:
      return "selection";
    case SplitId::kHoldout:
      return "holdout";
  }
  return "?";
}

int64_t Table::values_per_sample() const {
  int64_t n = shape.empty() ? 0 : 1;
  for (auto d : shape) n *= d;
  return n;
}

int64_t Table::samples() const {
  int64_t n = 0;
  for (const auto& p : parts) n += p.size();
  return n;
}

std::array<std::vector<int64_t>, 3> Table::CountsByClass() const {
  std::array<std::vector<int64_t>, 3> out;
  for (SplitId s : kSplits) {
    auto& counts = out[static_cast<int>(s)];
    counts.assign(classes.size(), 0);
    for (int32_t y : part(s).y) {
      if (y >= 0 && static_cast<size_t>(y) < counts.size()) ++counts[y];
    }
  }
  return out;
}

bool IsValidClassName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    const bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

StatusOr<std::vector<int64_t>> ParseShape(const std::string& text) {
  std::vector<int64_t> shape;
  size_t i = 0;
  const std::string what = "shape \"" + text.substr(0, 64) + "\"";
  while (i <= text.size()) {
    size_t j = text.find('x', i);
    if (j == std::string::npos) j = text.size();
    const std::string part = text.substr(i, j - i);
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgumentError(what + ": expected CxL or CxHxW, positive integers joined by 'x'");
    }
    shape.push_back(std::stoll(part));
    if (shape.back() < 1) return InvalidArgumentError(what + ": dimensions must be at least 1");
    if (shape.size() > static_cast<size_t>(kMaxShapeDims)) break;
    i = j + 1;
  }
  if (shape.size() < 2 || shape.size() > static_cast<size_t>(kMaxShapeDims)) {
    return InvalidArgumentError(what + ": expected CxL (series) or CxHxW (images)");
  }
  int64_t values = 1;
  for (auto d : shape) {
    values *= d;
    if (values > kMaxValuesPerSample) {
      return InvalidArgumentError(what + ": more than " + std::to_string(kMaxValuesPerSample) +
                                  " values per sample");
    }
  }
  return shape;
}

Status ValidateTable(const Table& t) {
  if (t.shape.size() < 2 || t.shape.size() > static_cast<size_t>(kMaxShapeDims)) {
    return InvalidArgumentError("shape " + ShapeText(t.shape) +
                                ": expected CxL (series) or CxHxW (images)");
  }
  int64_t per = 1;
  for (auto d : t.shape) {
    if (d < 1) return InvalidArgumentError("shape " + ShapeText(t.shape) + ": dimensions must be at least 1");
    per *= d;
    if (per > kMaxValuesPerSample) {
      return InvalidArgumentError("shape " + ShapeText(t.shape) + ": more than " +
                                  std::to_string(kMaxValuesPerSample) + " values per sample");
    }
  }
  if (t.classes.size() < 2 || t.classes.size() > static_cast<size_t>(kMaxClasses)) {
    return InvalidArgumentError("a data set needs 2 to " + std::to_string(kMaxClasses) +
                                " classes, got " + std::to_string(t.classes.size()));
  }
  std::set<std::string> seen;
  for (const auto& c : t.classes) {
    if (!IsValidClassName(c)) {
      return InvalidArgumentError("class name \"" + c.substr(0, 80) +
                                  "\" must be 1-64 letters, digits, '.', '_' or '-'");
    }
    if (!seen.insert(c).second) return InvalidArgumentError("class \"" + c + "\" named twice");
  }
  for (SplitId s : kSplits) {
    const Part& p = t.part(s);
    const std::string name = SplitName(s);
    if (static_cast<int64_t>(p.x.size()) != p.size() * per) {
      return InvalidArgumentError(name + " split: " + std::to_string(p.x.size()) + " values for " +
                                  std::to_string(p.size()) + " samples of " + std::to_string(per));
    }
    for (int64_t i = 0; i < p.size(); ++i) {
      if (p.y[i] < 0 || p.y[i] >= static_cast<int32_t>(t.classes.size())) {
        return InvalidArgumentError(name + " split, sample " + std::to_string(i + 1) + ": label " +
                                    std::to_string(p.y[i]) + " is not a class (0-" +
                                    std::to_string(t.classes.size() - 1) + ")");
      }
    }
    for (size_t i = 0; i < p.x.size(); ++i) {
      if (!std::isfinite(p.x[i])) {
        return InvalidArgumentError(name + " split, sample " + std::to_string(i / per + 1) +
                                    ", value " + std::to_string(i % per + 1) + ": not finite");
      }
    }
  }
  if (t.part(SplitId::kTrain).size() == 0) return InvalidArgumentError("the train split is empty");
  if (t.part(SplitId::kSelection).size() == 0) {
    return InvalidArgumentError("the selection split is empty");
  }
  return OkStatus();
}

Status CheckEveryClassInEverySplit(const Table& t) {
  const auto counts = t.CountsByClass();
  for (SplitId s : kSplits) {
    if (t.part(s).size() == 0) continue;
    for (size_t c = 0; c < t.classes.size(); ++c) {
      if (counts[static_cast<int>(s)][c] == 0) {
        return InvalidArgumentError(std::string("the ") + SplitName(s) + " split has no sample of class \"" +
                                    t.classes[c] + "\" (every class must occur in every split)");
      }
    }
  }
  return OkStatus();
}

}  // namespace sweepfarm::data
