#include "sidecar/status_page.hpp"

#include <cstdio>

#include "sidecar/log.hpp"

namespace sidecar::core {
namespace {

constexpr std::string_view page_head = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sidecar</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }
.pass { color: #070; }
.fail { color: #b00; }
code { background: #f4f4f4; }
</style>
</head>
<body>
)";

std::string format_milliseconds(std::chrono::steady_clock::duration duration) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f ms", std::chrono::duration<double, std::milli>(duration).count());
  return buffer;
}

void append_element(std::string& out, std::string_view tag, std::string_view text) {
  out += '<';
  out += tag;
  out += '>';
  append_html_escaped(out, text);
  out += "</";
  out += tag;
  out += '>';
}

void append_header(std::string& out, const status_page_info& info) {
  out += "<h1>sidecar ";
  append_html_escaped(out, info.version);
  out += "</h1>\n<p>Config <code>";
  append_html_escaped(out, info.config_file);
  out += "</code>, loaded ";
  append_html_escaped(out, format_rfc3339(info.loaded_at));
  out += ". Listening on <code>";
  append_html_escaped(out, info.listen);
  out += "</code>.";
  if (info.draining) {
    out += " <strong class=\"fail\">Shutting down.</strong>";
  }
  out += "</p>\n";
  if (!info.last_reload_error.empty()) {
    out += "<p class=\"fail\">The last reload failed, so the config above still runs: <code>";
    append_html_escaped(out, info.last_reload_error);
    out += "</code></p>\n";
  }
}

// The results newest first, one row each.
void append_history(std::string& out, const status_item& item) {
  out += "<h3>";
  append_html_escaped(out, item.name);
  out += " <small>";
  append_html_escaped(out, item.kind);
  out += " <code>";
  append_html_escaped(out, item.target);
  out += "</code></small></h3>\n";

  if (item.history == nullptr || item.history->entries().empty()) {
    out += "<p>No results yet.</p>\n";
    return;
  }
  out += "<table>\n<tr><th>Time</th><th>Duration</th><th>Result</th><th>Reason</th><th>Message</th></tr>\n";
  const auto& entries = item.history->entries();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    out += "<tr>";
    append_element(out, "td", format_rfc3339(it->time));
    append_element(out, "td", format_milliseconds(it->duration));
    out += it->passed ? "<td class=\"pass\">pass</td>" : "<td class=\"fail\">fail</td>";
    append_element(out, "td", it->reason);
    append_element(out, "td", it->message);
    out += "</tr>\n";
  }
  out += "</table>\n";
}

}  // namespace

void append_html_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string render_status_page(const status_page_info& info,
                               const std::vector<std::shared_ptr<configured_duty>>& duties) {
  std::string out(page_head);
  append_header(out, info);

  for (const auto& duty : duties) {
    out += "<h2>";
    append_html_escaped(out, duty->name());
    out += " <small>";
    append_html_escaped(out, duty->kind());
    out += "</small></h2>\n";
    append_element(out, "p", duty->summary());
    out += '\n';
    for (const status_item& item : duty->status()) {
      append_history(out, item);
    }
  }

  out += "</body>\n</html>\n";
  return out;
}

}  // namespace sidecar::core
