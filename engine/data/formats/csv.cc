// CSV with a header row (RFC 4180 quoting, through Debian's libcsv): one sample a row, a label
// column, optionally a split column, every other column a number.
#include <csv.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "engine/data/formats/reader.h"

namespace sweepfarm::data {
namespace {

// Parser state across libcsv's callbacks. Stops at the first error (libcsv cannot be told to,
// so later fields are skipped).
struct CsvState {
  const ImportOptions* options;
  std::string path;
  RawSamples out;
  std::vector<std::string> header;
  int label_col = -1, split_col = -1;
  std::vector<int> value_cols;  // Column -> position among values (-1: label or split).
  int64_t row = 0;              // Data rows seen (the header is row 0).
  size_t field = 0;             // Fields seen in this row.
  std::string label;
  int8_t split = -1;
  Status error = OkStatus();

  std::string Where(size_t column) const {
    std::string col = column < header.size() ? "column \"" + header[column].substr(0, 64) + "\""
                                             : "column " + std::to_string(column + 1);
    return path + ": row " + std::to_string(row + 1) + " (data row " + std::to_string(row) +
           "), " + col;
  }

  void Field(const char* s, size_t n) {
    if (!error.ok()) return;
    const std::string text(s, n);
    if (row == 0) {
      header.push_back(text);
      return;
    }
    const size_t col = field++;
    if (col >= header.size()) return;  // Counted, reported at the end of the row.
    if (static_cast<int>(col) == label_col) {
      label = text;
      if (label.empty()) error = InvalidArgumentError(Where(col) + ": empty label");
      return;
    }
    if (static_cast<int>(col) == split_col) {
      if (text == "train") {
        split = static_cast<int8_t>(SplitId::kTrain);
      } else if (text == "selection") {
        split = static_cast<int8_t>(SplitId::kSelection);
      } else if (text == "holdout") {
        split = static_cast<int8_t>(SplitId::kHoldout);
      } else {
        error = InvalidArgumentError(Where(col) + ": \"" + text.substr(0, 64) +
                                     "\" is not a split (train, selection or holdout)");
      }
      return;
    }
    char* end = nullptr;
    const float v = text.empty() ? NAN : std::strtof(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
      error = InvalidArgumentError(Where(col) + ": \"" + text.substr(0, 64) +
                                   "\" is not a number");
    } else if (!std::isfinite(v)) {
      error = InvalidArgumentError(Where(col) + ": \"" + text.substr(0, 64) +
                                   "\" is not finite (NaN and infinities are refused)");
    } else {
      out.x.push_back(v);
    }
  }

  Status StartData() {
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string& h = header[i];
      for (size_t j = 0; j < i; ++j) {
        if (header[j] == h) {
          return InvalidArgumentError(path + ": row 1: column \"" + h.substr(0, 64) +
                                      "\" named twice");
        }
      }
      if (h == options->label_column) {
        label_col = static_cast<int>(i);
      } else if (h == options->split_column ||
                 (options->split_column.empty() && h == "split" &&
                  options->selection_file.empty() && options->holdout_file.empty())) {
        split_col = static_cast<int>(i);
      }
    }
    if (label_col < 0) {
      return InvalidArgumentError(path + ": row 1: no label column \"" + options->label_column +
                                  "\" in the header (--label-column names it)");
    }
    if (!options->split_column.empty() && split_col < 0) {
      return InvalidArgumentError(path + ": row 1: no split column \"" + options->split_column +
                                  "\" in the header");
    }
    out.values = static_cast<int64_t>(header.size()) - 1 - (split_col >= 0 ? 1 : 0);
    if (out.values < 1) {
      return InvalidArgumentError(path + ": row 1: no value columns besides the label");
    }
    return OkStatus();
  }

  void Row() {
    if (!error.ok()) return;
    if (row == 0) {
      error = StartData();
      row = 1;
      return;
    }
    if (field != header.size()) {
      error = InvalidArgumentError(path + ": row " + std::to_string(row + 1) + " (data row " +
                                   std::to_string(row) + ") has " + std::to_string(field) +
                                   " fields, the header has " + std::to_string(header.size()));
      return;
    }
    out.labels.push_back(label);
    if (split_col >= 0) out.split.push_back(split);
    label.clear();
    split = -1;
    field = 0;
    ++row;
  }
};

}  // namespace

StatusOr<RawSamples> ReadCsv(const std::string& path, const std::string& bytes,
                             const ImportOptions& o) {
  struct csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
    return InternalError("libcsv: cannot initialise");
  }
  csv_set_realloc_func(&parser, realloc);
  CsvState st;
  st.options = &o;
  st.path = path;
  st.out.where = path;
  auto on_field = [](void* s, size_t n, void* state) {
    static_cast<CsvState*>(state)->Field(s == nullptr ? "" : static_cast<const char*>(s),
                                         s == nullptr ? 0 : n);
  };
  auto on_row = [](int, void* state) { static_cast<CsvState*>(state)->Row(); };
  const size_t parsed = csv_parse(&parser, bytes.data(), bytes.size(), on_field, on_row, &st);
  if (parsed != bytes.size() && st.error.ok()) {
    st.error = InvalidArgumentError(path + ": row " + std::to_string(st.row + 1) + ": " +
                                    csv_strerror(csv_error(&parser)));
  }
  if (st.error.ok() && csv_fini(&parser, on_field, on_row, &st) != 0) {
    st.error = InvalidArgumentError(path + ": row " + std::to_string(st.row + 1) + ": " +
                                    csv_strerror(csv_error(&parser)) +
                                    " (an unterminated quoted field?)");
  }
  csv_free(&parser);
  SF_RETURN_IF_ERROR(st.error);
  if (st.header.empty()) return InvalidArgumentError(path + ": empty file (no header row)");
  if (st.out.labels.empty()) return InvalidArgumentError(path + ": no data rows after the header");
  return std::move(st.out);
}

}  // namespace sweepfarm::data
