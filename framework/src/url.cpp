#include "sidecar/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

namespace {

constexpr std::uint16_t default_http_port = 80;

std::optional<url> fail(std::string* error, std::string_view text, const std::string& reason) {
  if (error != nullptr) {
    *error = "invalid URL \"" + std::string(text) + "\": " + reason;
  }
  return std::nullopt;
}

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
bool is_scheme(std::string_view text) {
  if (text.empty() || !is_alpha(text.front())) {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
}

// The scheme of `text` when it starts with one followed by ':', else empty.
std::string_view scheme_of(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || !is_scheme(text.substr(0, colon))) {
    return {};
  }
  return text.substr(0, colon);
}

bool is_host_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

// Checks a host that is not a bracketed IPv6 literal and returns the reason when invalid.
std::optional<std::string> check_host(std::string_view host) {
  if (host.empty()) {
    return "host is missing";
  }
  const auto bad = std::find_if_not(host.begin(), host.end(), is_host_name_char);
  if (bad != host.end()) {
    return "host \"" + std::string(host) + "\" has an invalid character \"" + std::string(1, *bad) +
           "\"";
  }
  const bool looks_numeric =
      std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
  if (looks_numeric) {
    in_addr address{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &address) != 1) {
      return "host \"" + std::string(host) + "\" is not a valid IPv4 address";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_port(std::string_view text, std::uint16_t& port) {
  if (text.empty()) {
    return "port is empty, expected 1-65535";
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return "port \"" + std::string(text) + "\" is out of range, expected 1-65535";
  }
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return "port \"" + std::string(text) + "\" is not a number, expected 1-65535";
  }
  if (value < 1 || value > 65535) {
    return "port \"" + std::string(text) + "\" is out of range, expected 1-65535";
  }
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

// Splits "host", "host:port" or "[v6]:port" into `out` and returns the reason when invalid.
std::optional<std::string> parse_authority(std::string_view authority, url& out) {
  if (authority.empty()) {
    return "host is missing";
  }
  if (authority.find('@') != std::string_view::npos) {
    return "user info is not supported";
  }

  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return "IPv6 address has no closing \"]\"";
    }
    const std::string host(authority.substr(1, close - 1));
    in6_addr address{};
    if (inet_pton(AF_INET6, host.c_str(), &address) != 1) {
      return "host \"[" + host + "]\" is not a valid IPv6 address";
    }
    out.host = host;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return "unexpected \"" + std::string(after) + "\" after the IPv6 address, expected \":port\"";
      }
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return "host \"" + std::string(authority) + "\" has several \":\", expected an IPv6 address in brackets";
    }
    const std::string_view host = authority.substr(0, colon);
    if (auto reason = check_host(host)) {
      return reason;
    }
    out.host.clear();
    std::transform(host.begin(), host.end(), std::back_inserter(out.host), to_lower_ascii);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }

  out.port = default_http_port;
  if (has_port) {
    return check_port(port_text, out.port);
  }
  return std::nullopt;
}

// Checks that a path and query can be sent as they are in a request line.
std::optional<std::string> check_target(std::string_view target) {
  const bool has_space_or_control = std::any_of(target.begin(), target.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
  if (has_space_or_control) {
    return "path has a space or control character, expected it percent-encoded";
  }
  return std::nullopt;
}

// Drops the fragment and makes the target start with '/'.
std::string normalize_target(std::string_view target) {
  target = target.substr(0, target.find('#'));
  if (target.empty()) {
    return "/";
  }
  std::string out;
  if (target.front() != '/') {
    out += '/';
  }
  out += target;
  return out;
}

// RFC 3986 section 5.2.4 for an absolute path: applies "." and ".." segments.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  std::string_view rest = path.substr(1);
  for (;;) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool is_last = (slash == std::string_view::npos);

    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
      if (is_last) {
        segments.emplace_back();
      }
    } else if (segment == ".") {
      if (is_last) {
        segments.emplace_back();
      }
    } else {
      segments.push_back(segment);
    }

    if (is_last) {
      break;
    }
    rest = rest.substr(slash + 1);
  }

  std::string out;
  for (const auto segment : segments) {
    out += '/';
    out += segment;
  }
  return out.empty() ? "/" : out;
}

// Applies dot segments to the path part of a target and keeps its query.
std::string clean_target(std::string_view target) {
  const auto question = target.find('?');
  std::string out = remove_dot_segments(target.substr(0, question));
  if (question != std::string_view::npos) {
    out += target.substr(question);
  }
  return out;
}

}  // namespace

std::string url::authority() const {
  std::string out = (host.find(':') != std::string::npos) ? "[" + host + "]" : host;
  if (port != default_http_port) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::string url::to_string() const {
  return scheme + "://" + authority() + target;
}

std::optional<url> parse_url(std::string_view text, std::string* error) {
  // Scheme.
  const std::string_view scheme = scheme_of(text);
  if (scheme.empty()) {
    return fail(error, text, "missing scheme, expected \"http://\"");
  }
  std::string lower_scheme;
  std::transform(scheme.begin(), scheme.end(), std::back_inserter(lower_scheme), to_lower_ascii);
  if (lower_scheme != "http") {
    return fail(error, text, "scheme \"" + std::string(scheme) + "\" is not supported, expected http");
  }
  std::string_view rest = text.substr(scheme.size() + 1);
  if (!rest.starts_with("//")) {
    return fail(error, text, "missing \"//\" after \"http:\"");
  }
  rest.remove_prefix(2);

  // Authority, up to the path, query or fragment.
  url out;
  out.scheme = "http";
  const auto authority_end = rest.find_first_of("/?#");
  if (auto reason = parse_authority(rest.substr(0, authority_end), out)) {
    return fail(error, text, *reason);
  }

  // Path and query.
  const std::string_view target =
      (authority_end == std::string_view::npos) ? std::string_view{} : rest.substr(authority_end);
  out.target = normalize_target(target);
  if (auto reason = check_target(out.target)) {
    return fail(error, text, *reason);
  }
  return out;
}

std::optional<url> resolve_url(const url& base, std::string_view reference, std::string* error) {
  if (reference.empty()) {
    if (error != nullptr) {
      *error = "invalid URL reference \"\": it is empty";
    }
    return std::nullopt;
  }

  // An absolute URL, or one that keeps only the scheme ("//host/path").
  if (!scheme_of(reference).empty()) {
    return parse_url(reference, error);
  }
  if (reference.starts_with("//")) {
    return parse_url("http:" + std::string(reference), error);
  }

  // A reference within the same host.
  url out = base;
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (reference.front() == '#') {
    return out;
  }
  if (reference.front() == '/') {
    out.target = clean_target(normalize_target(reference));
  } else if (reference.front() == '?') {
    out.target = std::string(base_path) + normalize_target(reference).substr(1);
  } else {
    const std::string_view directory = base_path.substr(0, base_path.rfind('/') + 1);
    out.target = clean_target(normalize_target(std::string(directory) + std::string(reference)));
  }

  if (auto reason = check_target(out.target)) {
    if (error != nullptr) {
      *error = "invalid URL reference \"" + std::string(reference) + "\": " + *reason;
    }
    return std::nullopt;
  }
  return out;
}

}  // namespace sidecar
