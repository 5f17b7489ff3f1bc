#pragma once

// A strict parser of the Prometheus text exposition format 0.0.4, as the
// built-in scraper reads pods' /metrics.
//
//   auto page = podsim::parse_exposition("# TYPE up gauge\nup 1\n");
//   page.samples[0].value == 1
//
// Strict means that each of these is an error with the line number, some of
// which Prometheus 2.x lets pass:
//   - a name or label that is not valid, a bad escape, a value or timestamp
//     that is not a number;
//   - a second HELP or TYPE line for a family, a TYPE line after the family's
//     samples, a family whose samples are split by another family, the same
//     series twice;
//   - a histogram bucket without `le`, a summary sample without `quantile`;
//   - a last line without its line feed.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podsim {

struct metric_sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written, unescaped
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
};

struct metric_family {
  std::string name;
  std::string type = "untyped";  // counter, gauge, histogram, summary or untyped
  std::string help;              // unescaped
};

struct exposition {
  std::vector<metric_family> families;  // in the order they first appear
  std::vector<metric_sample> samples;   // in the order written
};

// what() is "line N: message".
class exposition_error : public std::runtime_error {
 public:
  exposition_error(int line, const std::string& message);
  int line() const { return line_; }

 private:
  int line_;
};

// Throws exposition_error on the first problem.
exposition parse_exposition(std::string_view text);

}  // namespace podsim
