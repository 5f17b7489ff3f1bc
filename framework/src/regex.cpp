#include "sidecar/regex.hpp"

#include <utility>

#include <re2/re2.h>

namespace sidecar {

std::optional<regex> regex::compile(std::string_view pattern, std::string* error) {
  // RE2::Quiet keeps RE2 from logging parse errors to stderr, where they would
  // break our one-JSON-object-per-line log; the caller reports `error` instead.
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern), re2::RE2::Quiet);
  if (!re->ok()) {
    if (error) *error = re->error();
    return std::nullopt;
  }
  return regex(std::string(pattern), std::move(re));
}

regex::regex(std::string pattern, std::shared_ptr<const re2::RE2> re)
    : pattern_(std::move(pattern)), re_(std::move(re)) {}

bool regex::search(std::string_view text) const {
  return re2::RE2::PartialMatch(re2::StringPiece(text), *re_);
}

bool regex::full_match(std::string_view text) const {
  return re2::RE2::FullMatch(re2::StringPiece(text), *re_);
}

}  // namespace sidecar
