// The chunking of an artifact stream (UploadArtifact, GetCheckpoint), in one place: pieces of at
// most 1 MiB, the first carrying the metadata.
#pragma once

#include <string>

#include "sweepfarm/v1/worker.pb.h"

namespace sweepfarm {

// Calls write(chunk) for each ArtifactChunk of `content` in order: the first is `head` (trial,
// lease, sha256, format, arch) with the first piece of data, each later one data alone; an empty
// content is one chunk. Stops at the first write that returns false; returns whether all were
// written.
template <typename Write>
bool WriteArtifactChunks(const v1::ArtifactChunk& head, const std::string& content, Write write) {
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; off == 0 || off < content.size(); off += kChunk) {
    v1::ArtifactChunk chunk;
    if (off == 0) chunk = head;
    chunk.set_data(content.substr(off, kChunk));
    if (!write(chunk)) return false;
  }
  return true;
}

}  // namespace sweepfarm
