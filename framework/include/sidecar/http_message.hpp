#pragma once

// HTTP request and response values shared by the server and the client. They
// are plain structs so that code using them does not compile Beast.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::http {

// Header fields in the order received. Names compare case-insensitively.
class headers {
 public:
  using field = std::pair<std::string, std::string>;

  headers() = default;
  headers(std::initializer_list<field> fields) : fields_(fields) {}

  // The first value of `name`, or an empty view when absent.
  std::string_view get(std::string_view name) const;
  bool contains(std::string_view name) const;
  void add(std::string name, std::string value);
  // Replaces every value of `name` with one value.
  void set(std::string name, std::string value);

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<field> fields_;
};

bool iequals(std::string_view a, std::string_view b);

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  std::string query;   // after '?', without it
  http::headers headers;
  std::string body;

  // The value of query parameter `name` (not percent-decoded), or empty.
  std::string_view query_param(std::string_view name) const;
};

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  http::headers headers;
  std::string body;
};

// A response with a status, plain-text body and content type.
response make_response(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");

// The standard reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status);

}  // namespace sidecar::http
