#include "podsim/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace podsim {
namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_label_start(char c) { return is_name_start(c) && c != ':'; }
bool is_label_char(char c) { return is_name_char(c) && c != ':'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool ends_with(std::string_view text, std::string_view suffix) { return text.ends_with(suffix); }

// Parses a value as Go's strconv.ParseFloat reads the decimal forms, with
// NaN and the infinities in any case.
std::optional<double> parse_value(std::string_view text) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  std::string lower(rest);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "inf" || lower == "infinity") {
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();

  // Only digits, one point and an exponent: no hexadecimal floats.
  if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
      })) {
    return std::nullopt;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (error != std::errc() || end != rest.data() + rest.size()) return std::nullopt;
  return negative ? -value : value;
}

class exposition_parser {
 public:
  exposition parse(std::string_view text) {
    if (!text.empty() && text.back() != '\n') {
      const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
      throw exposition_error(static_cast<int>(lines), "the last line does not end with a line feed");
    }
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      ++line_number_;
      parse_line(text.substr(start, end - start));
      start = end + 1;
    }
    return std::move(result_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { throw exposition_error(line_number_, message); }

  void parse_line(std::string_view line) {
    if (line.empty()) return;
    if (line.front() == '#') {
      parse_comment(line.substr(1));
      return;
    }
    parse_sample(line);
  }

  // --- # HELP and # TYPE ---

  void parse_comment(std::string_view rest) {
    std::size_t i = 0;
    while (i < rest.size() && is_blank(rest[i])) ++i;
    const std::size_t word_end = rest.find_first_of(" \t", i);
    const std::string_view keyword = rest.substr(i, word_end - i);
    if ((keyword != "HELP" && keyword != "TYPE") || word_end == std::string_view::npos) return;  // a plain comment

    i = word_end;
    while (i < rest.size() && is_blank(rest[i])) ++i;
    const std::size_t name_end = scan_name(rest, i, is_name_start, is_name_char);
    if (name_end == i) fail(std::string(keyword) + " line without a valid metric name");
    const std::string name(rest.substr(i, name_end - i));
    if (name_end < rest.size() && !is_blank(rest[name_end])) fail("invalid metric name in " + std::string(keyword) + " line");
    i = name_end;
    while (i < rest.size() && is_blank(rest[i])) ++i;

    metric_family& family = begin_family(name);
    if (keyword == "HELP") {
      if (help_seen_.contains(name)) fail("second HELP line for metric " + name);
      help_seen_.insert(name);
      family.help = unescape_help(rest.substr(i));
      return;
    }

    std::string_view type = rest.substr(i);
    while (!type.empty() && is_blank(type.back())) type.remove_suffix(1);
    if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped") {
      fail("unknown metric type \"" + std::string(type) + "\" for " + name +
           ", expected counter, gauge, histogram, summary or untyped");
    }
    if (type_seen_.contains(name)) fail("second TYPE line for metric " + name);
    if (has_samples_.contains(name)) fail("TYPE line for metric " + name + " after its samples");
    type_seen_.insert(name);
    family.type = std::string(type);
  }

  std::string unescape_help(std::string_view text) const {
    std::string help;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\\') {
        help += text[i];
        continue;
      }
      if (i + 1 == text.size()) fail("HELP text ends with a lone backslash");
      const char next = text[++i];
      if (next == '\\') {
        help += '\\';
      } else if (next == 'n') {
        help += '\n';
      } else {
        fail(std::string("invalid escape sequence \\") + next + " in HELP text, expected \\\\ or \\n");
      }
    }
    return help;
  }

  // --- Families ---

  // Makes `name` the family now being written; a family whose samples were
  // followed by another family's may not come back.
  metric_family& begin_family(const std::string& name) {
    if (current_ != name) {
      if (!current_.empty()) ended_.insert(current_);
      if (ended_.contains(name)) fail("metric " + name + " continues after other metrics, expected its lines in one group");
      current_ = name;
    }
    const auto found = family_index_.find(name);
    if (found != family_index_.end()) return result_.families[found->second];
    family_index_[name] = result_.families.size();
    result_.families.push_back({.name = name, .type = "untyped", .help = ""});
    return result_.families.back();
  }

  const metric_family* find_family(const std::string& name) const {
    const auto found = family_index_.find(name);
    return found == family_index_.end() ? nullptr : &result_.families[found->second];
  }

  // The family a sample belongs to: a histogram's _bucket, _sum and _count,
  // and a summary's _sum and _count, belong to the base name.
  std::string family_of(const std::string& sample_name) const {
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!ends_with(sample_name, suffix)) continue;
      const std::string base = sample_name.substr(0, sample_name.size() - suffix.size());
      const metric_family* family = find_family(base);
      if (family == nullptr) continue;
      if (family->type == "histogram" || (family->type == "summary" && suffix != "_bucket")) return base;
    }
    return sample_name;
  }

  // --- Samples ---

  void parse_sample(std::string_view line) {
    metric_sample sample;
    std::size_t i = scan_name(line, 0, is_name_start, is_name_char);
    if (i == 0) fail("invalid metric name at the start of \"" + std::string(line.substr(0, 40)) + "\"");
    sample.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') i = parse_labels(line, i + 1, sample);
    if (i >= line.size() || !is_blank(line[i])) fail("expected a space and a value after " + sample.name);
    while (i < line.size() && is_blank(line[i])) ++i;

    const std::size_t value_end = std::min(line.find_first_of(" \t", i), line.size());
    const std::string_view value_text = line.substr(i, value_end - i);
    const auto value = parse_value(value_text);
    if (!value) fail("invalid value \"" + std::string(value_text) + "\" for " + sample.name);
    sample.value = *value;
    i = value_end;
    while (i < line.size() && is_blank(line[i])) ++i;

    if (i < line.size()) {
      const std::size_t timestamp_end = std::min(line.find_first_of(" \t", i), line.size());
      std::string_view timestamp = line.substr(i, timestamp_end - i);
      if (timestamp.starts_with('+')) timestamp.remove_prefix(1);
      std::int64_t ms = 0;
      const auto [end, error] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ms);
      if (error != std::errc() || end != timestamp.data() + timestamp.size()) {
        fail("invalid timestamp \"" + std::string(line.substr(i, timestamp_end - i)) + "\" for " + sample.name +
             ", expected milliseconds since the epoch");
      }
      sample.timestamp_ms = ms;
      i = timestamp_end;
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i < line.size()) fail("unexpected text after the timestamp of " + sample.name);
    }

    check_sample(sample);
    result_.samples.push_back(std::move(sample));
  }

  std::size_t parse_labels(std::string_view line, std::size_t i, metric_sample& sample) {
    std::set<std::string> names;
    while (true) {
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i < line.size() && line[i] == '}') return i + 1;

      const std::size_t name_end = scan_name(line, i, is_label_start, is_label_char);
      if (name_end == i) fail("invalid label name in the labels of " + sample.name);
      std::string name(line.substr(i, name_end - i));
      if (!names.insert(name).second) fail("duplicate label " + name + " in " + sample.name);
      i = name_end;
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i >= line.size() || line[i] != '=') fail("expected '=' after label " + name + " of " + sample.name);
      ++i;
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i >= line.size() || line[i] != '"') fail("expected a quoted value for label " + name + " of " + sample.name);

      std::string value;
      for (++i;; ++i) {
        if (i >= line.size()) fail("unterminated value of label " + name + " of " + sample.name);
        if (line[i] == '"') break;
        if (line[i] != '\\') {
          value += line[i];
          continue;
        }
        if (++i >= line.size()) fail("unterminated value of label " + name + " of " + sample.name);
        if (line[i] == '\\' || line[i] == '"') {
          value += line[i];
        } else if (line[i] == 'n') {
          value += '\n';
        } else {
          fail(std::string("invalid escape sequence \\") + line[i] + " in label " + name + " of " + sample.name +
               ", expected \\\\, \\\" or \\n");
        }
      }
      sample.labels.emplace_back(std::move(name), std::move(value));
      ++i;

      while (i < line.size() && is_blank(line[i])) ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') return i + 1;
      fail("expected ',' or '}' in the labels of " + sample.name);
    }
  }

  void check_sample(const metric_sample& sample) {
    const std::string family_name = family_of(sample.name);
    const metric_family& family = begin_family(family_name);
    has_samples_.insert(family_name);

    const auto label = [&](std::string_view name) -> const std::string* {
      for (const auto& [key, value] : sample.labels) {
        if (key == name) return &value;
      }
      return nullptr;
    };
    if (family.type == "histogram") {
      if (sample.name == family_name) fail("histogram " + family_name + " has a sample without _bucket, _sum or _count");
      if (ends_with(sample.name, "_bucket")) {
        const std::string* le = label("le");
        if (le == nullptr) fail("histogram bucket " + sample.name + " without an le label");
        if (!parse_value(*le)) fail("histogram bucket " + sample.name + " has le=\"" + *le + "\", expected a number");
      }
    }
    if (family.type == "summary" && sample.name == family_name) {
      const std::string* quantile = label("quantile");
      if (quantile == nullptr) fail("summary " + family_name + " has a sample without a quantile label");
      if (!parse_value(*quantile)) fail("summary " + family_name + " has quantile=\"" + *quantile + "\", expected a number");
    }

    // The same series twice: Prometheus would drop the second as a duplicate.
    std::vector<std::pair<std::string, std::string>> sorted = sample.labels;
    std::sort(sorted.begin(), sorted.end());
    std::string key = sample.name;
    for (const auto& [name, value] : sorted) key += '\xff' + name + '\xfe' + value;
    if (!series_.insert(key).second) fail("duplicate series " + sample.name + " with the same labels");
  }

  static std::size_t scan_name(std::string_view text, std::size_t start, bool (*first)(char), bool (*rest)(char)) {
    if (start >= text.size() || !first(text[start])) return start;
    std::size_t i = start + 1;
    while (i < text.size() && rest(text[i])) ++i;
    return i;
  }

  int line_number_ = 0;
  exposition result_;
  std::map<std::string, std::size_t> family_index_;
  std::set<std::string> help_seen_;
  std::set<std::string> type_seen_;
  std::set<std::string> has_samples_;
  std::set<std::string> ended_;
  std::set<std::string> series_;
  std::string current_;
};

}  // namespace

exposition_error::exposition_error(int line, const std::string& message)
    : std::runtime_error("line " + std::to_string(line) + ": " + message), line_(line) {}

exposition parse_exposition(std::string_view text) { return exposition_parser().parse(text); }

}  // namespace podsim
