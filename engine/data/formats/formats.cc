// The readers by format, registered here, and what every import shares: the sample shape, the
// classes, and the splits.
#include "engine/data/formats/formats.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/rng.h"
#include "engine/data/formats/reader.h"

namespace sweepfarm::data {
namespace {

struct Format {
  const char* name;
  std::vector<std::string> extensions;  // Matched after a trailing .gz is removed.
  StatusOr<RawSamples> (*read)(const std::string&, const std::string&, const ImportOptions&);
};

const std::vector<Format>& Formats() {
  static const auto* formats = new std::vector<Format>{
      {"csv", {".csv", ".txt"}, ReadCsv},
      {"npy", {".npy"}, ReadNpy},
      {"npz", {".npz"}, ReadNpz},
      {"idx", {".idx", "-ubyte", ".idx1-ubyte", ".idx3-ubyte"}, ReadIdx},
  };
  return *formats;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

StatusOr<const Format*> FormatFor(const std::string& path, const std::string& name) {
  if (!name.empty()) {
    for (const auto& f : Formats()) {
      if (name == f.name) return &f;
    }
    return InvalidArgumentError("--format " + name + ": unknown (known: " + FormatNames() + ")");
  }
  std::string base = path;
  if (EndsWith(base, ".gz")) base.resize(base.size() - 3);
  for (const auto& f : Formats()) {
    for (const auto& ext : f.extensions) {
      if (EndsWith(base, ext)) return &f;
    }
  }
  return InvalidArgumentError(path + ": cannot tell the format from the name; --format " +
                              FormatNames());
}

StatusOr<RawSamples> ReadOne(const std::string& path, const ImportOptions& o) {
  SF_ASSIGN_OR_RETURN(const Format* f, FormatFor(path, o.format));
  SF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path, o.max_file_bytes));
  if (bytes.empty()) return InvalidArgumentError(path + ": empty file");
  return f->read(path, bytes, o);
}

bool IsInteger(const std::string& s) {
  return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Class names in label order: --classes, else the labels seen, sorted (as numbers if all are).
StatusOr<std::vector<std::string>> Classes(const std::vector<const RawSamples*>& files,
                                           const ImportOptions& o) {
  if (!o.classes.empty()) return o.classes;
  std::set<std::string> seen;
  for (const auto* f : files) seen.insert(f->labels.begin(), f->labels.end());
  std::vector<std::string> out(seen.begin(), seen.end());
  const bool numeric = std::all_of(out.begin(), out.end(), IsInteger);
  if (numeric) {
    std::sort(out.begin(), out.end(),
              [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
    // Integer labels (npy, idx) are indices: 0..max, every index a class even if absent.
    if (!files.empty() && files.front()->integer_labels && !out.empty()) {
      const int64_t top = std::stoll(out.back());
      out.clear();
      for (int64_t i = 0; i <= top; ++i) out.push_back(std::to_string(i));
    }
  }
  if (out.size() > static_cast<size_t>(kMaxClasses)) {
    return InvalidArgumentError("the labels name " + std::to_string(out.size()) +
                                " classes, more than " + std::to_string(kMaxClasses) +
                                " (is --label-column the label?)");
  }
  return out;
}

// A label's class index: by name, or (no class being so named) as an index into the classes.
StatusOr<int32_t> ClassOf(const std::map<std::string, int32_t>& index,
                          const std::vector<std::string>& classes, const std::string& label,
                          const std::string& where) {
  if (auto it = index.find(label); it != index.end()) return it->second;
  if (IsInteger(label) && std::stoll(label) < static_cast<int64_t>(classes.size())) {
    return static_cast<int32_t>(std::stoll(label));
  }
  std::string known;
  for (size_t i = 0; i < classes.size() && i < 20; ++i) known += (i ? ", " : "") + classes[i];
  return InvalidArgumentError(where + ": label \"" + label.substr(0, 64) +
                              "\" is not one of the classes (" + known +
                              (classes.size() > 20 ? ", ..." : "") + ")");
}

}  // namespace

std::string FormatNames() {
  std::string s;
  for (const auto& f : Formats()) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

StatusOr<Imported> ImportFiles(const std::string& file, const ImportOptions& o) {
  if (o.selection_file.empty() != o.holdout_file.empty()) {
    return InvalidArgumentError("--selection and --holdout go together (the file given is then "
                                "the train split)");
  }
  const bool separate = !o.selection_file.empty();
  if (separate && !o.split_column.empty()) {
    return InvalidArgumentError("--split-column or --selection/--holdout, not both");
  }
  std::vector<RawSamples> files;
  SF_ASSIGN_OR_RETURN(RawSamples main, ReadOne(file, o));
  files.push_back(std::move(main));
  if (separate) {
    ImportOptions sel = o, hold = o;
    sel.labels_file = o.selection_labels_file;
    hold.labels_file = o.holdout_labels_file;
    SF_ASSIGN_OR_RETURN(RawSamples s, ReadOne(o.selection_file, sel));
    SF_ASSIGN_OR_RETURN(RawSamples h, ReadOne(o.holdout_file, hold));
    files.push_back(std::move(s));
    files.push_back(std::move(h));
  }

  Imported out;
  Table& t = out.table;
  // The sample shape: --shape, else the file's own, else 1xN.
  const RawSamples& first = files.front();
  if (!o.shape.empty()) {
    SF_ASSIGN_OR_RETURN(t.shape, ParseShape(o.shape));
  } else if (!first.shape_hint.empty()) {
    t.shape = first.shape_hint;
  } else {
    t.shape = {1, first.values};
  }
  if (t.shape.size() < 2 || t.shape.size() > static_cast<size_t>(kMaxShapeDims)) {
    return InvalidArgumentError(first.where + ": samples of shape " + ShapeText(t.shape) +
                                ": --shape CxL or CxHxW");
  }
  for (const auto& f : files) {
    if (f.values != t.values_per_sample()) {
      return InvalidArgumentError(
          f.where + ": " + std::to_string(f.values) + " values per sample, but shape " +
          ShapeText(t.shape) + " holds " + std::to_string(t.values_per_sample()) +
          (o.shape.empty() ? "" : " (--shape)"));
    }
  }
  std::vector<const RawSamples*> ptrs;
  for (const auto& f : files) ptrs.push_back(&f);
  SF_ASSIGN_OR_RETURN(t.classes, Classes(ptrs, o));
  std::map<std::string, int32_t> index;
  for (size_t i = 0; i < t.classes.size(); ++i) index[t.classes[i]] = static_cast<int32_t>(i);

  // Each sample's class and split.
  auto place = [&](const RawSamples& f, int64_t i, SplitId split) -> Status {
    const std::string where = f.where + ": sample " + std::to_string(i + 1);
    SF_ASSIGN_OR_RETURN(int32_t y, ClassOf(index, t.classes, f.labels[i], where));
    Part& p = t.part(split);
    p.y.push_back(y);
    p.x.insert(p.x.end(), f.x.begin() + i * f.values, f.x.begin() + (i + 1) * f.values);
    return OkStatus();
  };
  if (separate) {
    for (size_t k = 0; k < 3; ++k) {
      for (int64_t i = 0; i < files[k].size(); ++i) {
        SF_RETURN_IF_ERROR(place(files[k], i, kSplits[k]));
      }
    }
    out.split_rule = "train from " + file + ", selection from " + o.selection_file +
                     ", holdout from " + o.holdout_file;
  } else if (!first.split.empty()) {
    for (int64_t i = 0; i < first.size(); ++i) {
      SF_RETURN_IF_ERROR(place(first, i, static_cast<SplitId>(first.split[i])));
    }
    out.split_rule = "from the split column";
  } else {
    // Stratified: within each class, samples in file order are dealt to the splits by a seeded
    // shuffle, so each split holds about its fraction of every class.
    if (!(o.selection_fraction > 0 && o.holdout_fraction > 0 &&
          o.selection_fraction + o.holdout_fraction < 1)) {
      return InvalidArgumentError("selection and holdout fractions must be positive and leave "
                                  "some data to train on");
    }
    std::vector<std::vector<int64_t>> by_class(t.classes.size());
    for (int64_t i = 0; i < first.size(); ++i) {
      SF_ASSIGN_OR_RETURN(int32_t y, ClassOf(index, t.classes, first.labels[i],
                                             first.where + ": sample " + std::to_string(i + 1)));
      by_class[y].push_back(i);
    }
    std::vector<int8_t> split(first.size(), static_cast<int8_t>(SplitId::kTrain));
    for (size_t c = 0; c < by_class.size(); ++c) {
      std::vector<int64_t> order = by_class[c];
      Rng rng(MixKey(o.seed, c, 0x5eed));
      for (size_t i = order.size(); i > 1; --i) {
        std::swap(order[i - 1], order[static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(i) - 1))]);
      }
      const auto n = static_cast<double>(order.size());
      const auto n_sel = static_cast<size_t>(n * o.selection_fraction + 0.5);
      const auto n_hold = static_cast<size_t>(n * o.holdout_fraction + 0.5);
      for (size_t i = 0; i < order.size(); ++i) {
        if (i < n_sel) {
          split[order[i]] = static_cast<int8_t>(SplitId::kSelection);
        } else if (i < n_sel + n_hold) {
          split[order[i]] = static_cast<int8_t>(SplitId::kHoldout);
        }
      }
    }
    for (int64_t i = 0; i < first.size(); ++i) {
      SF_RETURN_IF_ERROR(place(first, i, static_cast<SplitId>(split[i])));
    }
    char rule[160];
    std::snprintf(rule, sizeof(rule),
                  "stratified by class, seed %llu: selection %.3g, holdout %.3g, the rest train",
                  static_cast<unsigned long long>(o.seed), o.selection_fraction,
                  o.holdout_fraction);
    out.split_rule = rule;
  }
  if (Status s = ValidateTable(t); !s.ok()) return InvalidArgumentError(file + ": " + s.message());
  if (Status s = CheckEveryClassInEverySplit(t); !s.ok()) {
    return InvalidArgumentError(file + ": " + s.message());
  }
  return out;
}

Status ExportCsv(const Table& t, const std::string& path) {
  const bool gz = EndsWith(path, ".gz");
  const std::string tmp = path + ".partial";
  gzFile f = gzopen(tmp.c_str(), gz ? "wb6" : "wbT");  // T: written as is, not compressed.
  if (f == nullptr) return InvalidArgumentError(path + ": cannot write");
  std::string line = "split,label";
  for (int64_t i = 0; i < t.values_per_sample(); ++i) line += ",v" + std::to_string(i);
  line += "\n";
  bool ok = gzwrite(f, line.data(), static_cast<unsigned>(line.size())) > 0;
  char num[32];
  for (SplitId s : kSplits) {
    const Part& p = t.part(s);
    const int64_t per = t.values_per_sample();
    for (int64_t i = 0; i < p.size() && ok; ++i) {
      line = std::string(SplitName(s)) + "," + t.classes[p.y[i]];
      for (int64_t j = 0; j < per; ++j) {
        // %.9g: a float32 reads back exactly.
        std::snprintf(num, sizeof(num), ",%.9g", static_cast<double>(p.x[i * per + j]));
        line += num;
      }
      line += "\n";
      ok = gzwrite(f, line.data(), static_cast<unsigned>(line.size())) > 0;
    }
  }
  if (gzclose(f) != Z_OK || !ok) {
    std::remove(tmp.c_str());
    return InvalidArgumentError(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return InvalidArgumentError(path + ": cannot rename into place");
  }
  return OkStatus();
}

}  // namespace sweepfarm::data
