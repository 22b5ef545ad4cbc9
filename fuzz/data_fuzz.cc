// Users' data files (CSV, .npy, .npz, IDX, as `sweepctl data import` reads them) and the stored
// encoding (as the coordinator decodes an import and workers a fetched version): the first byte
// picks the reader, the rest is the file. Refused with a message, or read; never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/data/codec.h"
#include "engine/data/formats/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace sweepfarm::data;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  ImportOptions o;
  o.max_file_bytes = 16 << 20;  // The limit bounds what a file may hold; past it is refused.
  switch (data[0] % 6) {
    case 0:
      (void)Decode(bytes);
      break;
    case 1:
      (void)ReadCsv("fuzz.csv", bytes, o);
      break;
    case 2:
      o.split_column = "split";
      (void)ReadCsv("fuzz.csv", bytes, o);
      break;
    case 3:
      (void)ReadNpy("fuzz.npy", bytes, o);
      break;
    case 4:
      (void)ReadNpz("fuzz.npz", bytes, o);
      break;
    case 5:
      (void)ReadIdx("fuzz.idx", bytes, o);
      break;
  }
  return 0;
}
