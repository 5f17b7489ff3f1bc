#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sidecar {

// An absolute http URL split into the parts a client needs. Only `http` is
// supported: a sidecar talks to its own pod over loopback.
struct url {
  std::string scheme;  // "http"
  std::string host;    // without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string target;  // path and query, at least "/"

  // host:port as sent in the Host header (port omitted when 80).
  std::string authority() const;
  std::string to_string() const;
};

// Parses an absolute URL; returns nothing and sets `error` when invalid.
std::optional<url> parse_url(std::string_view text, std::string* error = nullptr);

// Resolves `reference` against `base`: an absolute URL is returned as it is,
// one starting with '/' replaces the base's path and query.
std::optional<url> resolve_url(const url& base, std::string_view reference, std::string* error = nullptr);

}  // namespace sidecar
