// Reading users' files into data set tables, and writing tables back out. One reader per format
// (CSV, NumPy .npy and .npz, IDX), registered in formats.cc; gzipped files are read by all.
// Errors name the file and the row or line, the column, and what would be valid. Stateless;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/table.h"

namespace sweepfarm::data {

// Largest file read (after decompression); docs/data.md states it.
constexpr int64_t kMaxFileBytes = int64_t{2} << 30;

struct ImportOptions {
  std::string format;                // csv, npy, npz or idx; empty: from the file name.
  std::string label_column = "label";  // CSV.
  std::string shape;                 // CxL or CxHxW; empty: the file's own (npy, idx) or 1xN.
  std::vector<std::string> classes;  // Class names in label order; empty: the labels, sorted.
  std::string labels_file;           // npy, idx: the labels, in a file of their own.
  // Splits: a CSV column of train/selection/holdout (default "split" when the file has one), or
  // separate files for selection and holdout (the main file is then the train split), or else a
  // seeded split stratified by class.
  std::string split_column;
  std::string selection_file, holdout_file;
  std::string selection_labels_file, holdout_labels_file;  // npy, idx with separate files.
  double selection_fraction = 0.2;
  double holdout_fraction = 0.2;
  uint64_t seed = 1;
  int64_t max_file_bytes = kMaxFileBytes;
};

struct Imported {
  Table table;
  std::string split_rule;  // How the splits were made, in words (recorded with the version).
};

// Reads `file` (and the files the options name) into a validated table (ValidateTable and
// CheckEveryClassInEverySplit).
StatusOr<Imported> ImportFiles(const std::string& file, const ImportOptions& options);

// Writes a table as CSV: split, label (the class name), then the values named v0, v1, ...;
// gzipped when the path ends in .gz. `ImportFiles` with --shape, --classes and the split column
// reads it back into the same table.
Status ExportCsv(const Table& table, const std::string& path);

// The formats, for --help and errors: "csv, npy, npz, idx".
std::string FormatNames();

}  // namespace sweepfarm::data
