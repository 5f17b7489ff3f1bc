#pragma once

// Response bodies for the micro-benchmarks: a JSON status document of a given
// size, shaped like the status files that probes read.

#include <cstddef>
#include <string>

namespace sidecar::bench {

// A JSON object of `size` bytes or a few more. It starts with "value": 5,
// then contains an array "items" of small objects, and ends with
// "last": "end", so a pointer can name a value at either end.
inline std::string make_status_body(std::size_t size) {
  std::string body = R"({"value": 5, "items": [)";
  for (int i = 0; body.size() + 64 < size; ++i) {
    if (i > 0) body += ", ";
    body += R"({"id": )" + std::to_string(i) + R"(, "name": "item )" + std::to_string(i) +
            R"(", "ok": true})";
  }
  body += R"(], "last": "end"})";
  while (body.size() < size) body += ' ';
  return body;
}

}  // namespace sidecar::bench
