#pragma once

// A user-supplied regular expression, compiled with RE2 so that matching takes
// time linear in the input whatever the pattern: a pattern from a config file
// cannot stall a sidecar with catastrophic backtracking.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace sidecar {

class regex {
 public:
  // Compiles `pattern` (RE2 syntax); returns nothing and sets `error` to RE2's
  // message when the pattern is invalid.
  static std::optional<regex> compile(std::string_view pattern, std::string* error = nullptr);

  // True when the pattern matches anywhere in `text`.
  bool search(std::string_view text) const;
  // True when the pattern matches the whole of `text`.
  bool full_match(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }
  // The RE2 object, for callers that extract capture groups.
  const re2::RE2& native() const { return *re_; }

 private:
  regex(std::string pattern, std::shared_ptr<const re2::RE2> re);
  std::string pattern_;
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace sidecar
