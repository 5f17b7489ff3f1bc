#include "sidecar/json_check.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

using sidecar::evaluate;
using sidecar::json_check;
using sidecar::json_failure;
using sidecar::json_op;
using sidecar::json_type;

// One row of a table: a body, a check, and the result expected. A passing
// row has reason none and an empty message.
struct json_case {
  std::string name;
  std::string body;
  json_check check;
  json_failure reason;
  std::string message;
  std::string actual;
};

json_check equals(std::string pointer, sidecar::json_operand operand) {
  return {.pointer = std::move(pointer), .op = json_op::equals, .operand = std::move(operand)};
}

json_check compare(std::string pointer, json_op op, sidecar::json_operand operand) {
  return {.pointer = std::move(pointer), .op = op, .operand = std::move(operand)};
}

json_check exists(std::string pointer) {
  return {
      .pointer = std::move(pointer), .op = json_op::exists, .operand = {}, .type = json_type::null};
}

json_check type_is(std::string pointer, json_type type) {
  return {.pointer = std::move(pointer), .op = json_op::type_is, .operand = {}, .type = type};
}

void check_cases(const std::vector<json_case>& cases) {
  for (const json_case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      sidecar::json_check_result result = evaluate(c.check, c.body);
      CHECK(result.passed == (c.reason == json_failure::none));
      CHECK(sidecar::to_string(result.reason) == sidecar::to_string(c.reason));
      CHECK(result.message == c.message);
      CHECK(result.actual == c.actual);
    }
  }
}

}  // namespace

TEST_CASE("json check numbers") {
  check_cases({
      {"4 is not 5", R"({"value": 4})", equals("/value", 5.0), json_failure::mismatch,
       "/value is 4, expected equals 5", "4"},
      {"string \"5\" is not number 5", R"({"value": "5"})", equals("/value", 5.0),
       json_failure::wrong_type, R"(/value is "5" (a string), expected a number)", R"("5")"},
      {"5 equals 5", R"({"value": 5})", equals("/value", 5.0), json_failure::none, "", "5"},
      {"5.0 equals 5", R"({"value": 5.0})", equals("/value", 5.0), json_failure::none, "", "5.0"},
      {"5e0 equals 5", R"({"value": 5e0})", equals("/value", 5.0), json_failure::none, "", "5e0"},
      {"-0 equals 0", R"({"value": -0})", equals("/value", 0.0), json_failure::none, "", "-0"},
      {"fraction", R"({"value": 0.25})", equals("/value", 0.25), json_failure::none, "", "0.25"},
      {"not_equals passes", R"({"value": 4})", compare("/value", json_op::not_equals, 5.0),
       json_failure::none, "", "4"},
      {"not_equals fails", R"({"value": 5})", compare("/value", json_op::not_equals, 5.0),
       json_failure::mismatch, "/value is 5, expected not_equals 5", "5"},
      {"not_equals string", R"({"value": "5"})", compare("/value", json_op::not_equals, 5.0),
       json_failure::wrong_type, R"(/value is "5" (a string), expected a number)", R"("5")"},
      {"less passes", R"({"value": 4})", compare("/value", json_op::less, 5.0), json_failure::none,
       "", "4"},
      {"less fails when equal", R"({"value": 5})", compare("/value", json_op::less, 5.0),
       json_failure::mismatch, "/value is 5, expected less 5", "5"},
      {"less_equal when equal", R"({"value": 5})", compare("/value", json_op::less_equal, 5.0),
       json_failure::none, "", "5"},
      {"greater fraction", R"({"value": 5})", compare("/value", json_op::greater, 4.5),
       json_failure::none, "", "5"},
      {"greater fails", R"({"value": 4.4})", compare("/value", json_op::greater, 4.5),
       json_failure::mismatch, "/value is 4.4, expected greater 4.5", "4.4"},
      {"greater_equal negative", R"({"value": -3})",
       compare("/value", json_op::greater_equal, -3.0), json_failure::none, "", "-3"},
      {"ordering a string against a number", R"({"value": "9"})",
       compare("/value", json_op::less, 10.0), json_failure::wrong_type,
       R"(/value is "9" (a string), expected a number)", R"("9")"},
      // 2^53 + 1 rounds to 2^53 as a double, but compared exactly it is greater.
      {"int64 beyond double precision", R"({"value": 9007199254740993})",
       compare("/value", json_op::greater, 9007199254740992.0), json_failure::none, "",
       "9007199254740993"},
      {"uint64 maximum", R"({"value": 18446744073709551615})",
       compare("/value", json_op::less, 0x1p64), json_failure::none, "", "18446744073709551615"},
      {"integer beyond 64 bits", R"({"value": 123456789012345678901234567890})",
       compare("/value", json_op::greater, 1e29), json_failure::none, "",
       "123456789012345678901234567890"},
      {"negative integer below int64", R"({"value": -9223372036854775809})",
       compare("/value", json_op::less, -9.2e18), json_failure::none, "", "-9223372036854775809"},
  });
}

TEST_CASE("json check strings") {
  check_cases({
      {"equal", R"({"v": "ready"})", equals("/v", std::string("ready")), json_failure::none, "",
       R"("ready")"},
      {"not equal", R"({"v": "starting"})", equals("/v", std::string("ready")),
       json_failure::mismatch, R"(/v is "starting", expected equals "ready")", R"("starting")"},
      {"escapes compare unescaped", R"({"v": "a\"b\u00e9"})",
       equals("/v", std::string("a\"b\xc3\xa9")), json_failure::none, "", R"("a\"b\u00e9")"},
      {"number is not a string", R"({"v": 5})", equals("/v", std::string("5")),
       json_failure::wrong_type, "/v is 5 (a number), expected a string", "5"},
      {"greater", R"({"v": "beta"})", compare("/v", json_op::greater, std::string("alpha")),
       json_failure::none, "", R"("beta")"},
      {"less fails", R"({"v": "beta"})", compare("/v", json_op::less, std::string("alpha")),
       json_failure::mismatch, R"(/v is "beta", expected less "alpha")", R"("beta")"},
      {"byte order puts upper case first", R"({"v": "Zulu"})",
       compare("/v", json_op::less, std::string("alpha")), json_failure::none, "", R"("Zulu")"},
      {"prefix orders first", R"({"v": "abc"})", compare("/v", json_op::less, std::string("abcd")),
       json_failure::none, "", R"("abc")"},
      {"byte order beyond ASCII", R"({"v": "\u00e9"})",
       compare("/v", json_op::greater, std::string("z")), json_failure::none, "", R"("\u00e9")"},
      {"less_equal equal", R"({"v": "same"})",
       compare("/v", json_op::less_equal, std::string("same")), json_failure::none, "",
       R"("same")"},
      {"greater_equal fails", R"({"v": "a"})",
       compare("/v", json_op::greater_equal, std::string("b")), json_failure::mismatch,
       R"(/v is "a", expected greater_equal "b")", R"("a")"},
  });
}

TEST_CASE("json check null and booleans") {
  check_cases({
      {"null equals null", R"({"v": null})", equals("/v", std::monostate{}), json_failure::none, "",
       "null"},
      {"null not_equals null", R"({"v": null})",
       compare("/v", json_op::not_equals, std::monostate{}), json_failure::mismatch,
       "/v is null, expected not_equals null", "null"},
      {"number equals null", R"({"v": 5})", equals("/v", std::monostate{}), json_failure::mismatch,
       "/v is 5, expected equals null", "5"},
      {"number not_equals null", R"({"v": 5})",
       compare("/v", json_op::not_equals, std::monostate{}), json_failure::none, "", "5"},
      {"null equals a number", R"({"v": null})", equals("/v", 5.0), json_failure::wrong_type,
       "/v is null, expected a number", "null"},
      {"true equals true", R"({"ok": true})", equals("/ok", true), json_failure::none, "", "true"},
      {"true equals false", R"({"ok": true})", equals("/ok", false), json_failure::mismatch,
       "/ok is true, expected equals false", "true"},
      {"false not_equals true", R"({"ok": false})", compare("/ok", json_op::not_equals, true),
       json_failure::none, "", "false"},
      {"boolean is not a string", R"({"ok": true})", equals("/ok", std::string("true")),
       json_failure::wrong_type, "/ok is true (a boolean), expected a string", "true"},
      {"string is not a boolean", R"({"ok": "true"})", equals("/ok", true),
       json_failure::wrong_type, R"(/ok is "true" (a string), expected a boolean)", R"("true")"},
      {"booleans have no order", R"({"ok": true})", compare("/ok", json_op::less, true),
       json_failure::wrong_type,
       "/ok: less cannot order operand true, expected a number or a string operand", "true"},
      {"null has no order", R"({"v": 1})", compare("/v", json_op::greater, std::monostate{}),
       json_failure::wrong_type,
       "/v: greater cannot order operand null, expected a number or a string operand", "1"},
  });
}

TEST_CASE("json check types and exists") {
  check_cases({
      {"string is not a number", R"({"value": "5"})", type_is("/value", json_type::number),
       json_failure::wrong_type, R"(/value is "5" (a string), expected a number)", R"("5")"},
      {"number", R"({"value": 5})", type_is("/value", json_type::number), json_failure::none, "",
       "5"},
      {"array", R"({"value": [1, 2]})", type_is("/value", json_type::array), json_failure::none, "",
       "[1, 2]"},
      {"array is not an object", R"({"value": [1,2]})", type_is("/value", json_type::object),
       json_failure::wrong_type, "/value is [1,2] (an array), expected an object", "[1,2]"},
      {"object", R"({"value": {"a": 1} })", type_is("/value", json_type::object),
       json_failure::none, "", R"({"a": 1})"},
      {"null", R"({"value": null})", type_is("/value", json_type::null), json_failure::none, "",
       "null"},
      {"null is not a string", R"({"value": null})", type_is("/value", json_type::string),
       json_failure::wrong_type, "/value is null, expected a string", "null"},
      {"boolean is not null", R"({"value": false})", type_is("/value", json_type::null),
       json_failure::wrong_type, "/value is false (a boolean), expected null", "false"},
      {"exists", R"({"value": 0})", exists("/value"), json_failure::none, "", "0"},
      {"exists for null", R"({"value": null})", exists("/value"), json_failure::none, "", "null"},
      {"an object compared with a number", R"({"value": {}})", equals("/value", 1.0),
       json_failure::wrong_type, "/value is {} (an object), expected a number", "{}"},
  });
}

TEST_CASE("json check pointers") {
  const std::string nested =
      R"({"a/b": {"m~n": [10, {"c": true}]}, "list": [1, 2, 3], "": {"": 7}})";
  check_cases({
      {"missing key", R"({"other": 5})", equals("/value", 5.0), json_failure::missing,
       "/value is missing", ""},
      {"missing for exists", R"({"other": 5})", exists("/value"), json_failure::missing,
       "/value is missing", ""},
      {"~0 and ~1 and an array index", nested, equals("/a~1b/m~0n/1/c", true), json_failure::none,
       "", "true"},
      {"array index 0", nested, equals("/list/0", 1.0), json_failure::none, "", "1"},
      {"last array index", nested, equals("/list/2", 3.0), json_failure::none, "", "3"},
      {"index past the end", nested, exists("/list/3"), json_failure::missing, "/list/3 is missing",
       ""},
      {"index with a leading zero", nested, exists("/list/01"), json_failure::missing,
       "/list/01 is missing", ""},
      {"index \"-\"", nested, exists("/list/-"), json_failure::missing, "/list/- is missing", ""},
      {"name on an array", nested, exists("/list/x"), json_failure::missing, "/list/x is missing",
       ""},
      {"into a scalar", nested, exists("/list/0/x"), json_failure::missing, "/list/0/x is missing",
       ""},
      {"unescaped ~1 is a key with a slash", nested, exists("/a/b"), json_failure::missing,
       "/a/b is missing", ""},
      {"empty keys", nested, equals("//", 7.0), json_failure::none, "", "7"},
      {"escaped key in the document", R"({"a\/b": 1, "\u0041": 2})", equals("/a~1b", 1.0),
       json_failure::none, "", "1"},
      {"unicode escape in a key", R"({"\u0041": 2})", equals("/A", 2.0), json_failure::none, "",
       "2"},
      {"first of duplicate keys", R"({"v": 1, "v": 2})", equals("/v", 1.0), json_failure::none, "",
       "1"},
      {"whole document scalar", " 5 ", equals("", 5.0), json_failure::none, "", "5"},
      {"whole document mismatch", "4", equals("", 5.0), json_failure::mismatch,
       "document is 4, expected equals 5", "4"},
      {"whole document object", " {\"a\": 1}\n", type_is("", json_type::object), json_failure::none,
       "", "{\"a\": 1}"},
      {"pointer into a scalar document", "5", exists("/a"), json_failure::missing, "/a is missing",
       ""},
      {"root array", "[true]", equals("/0", true), json_failure::none, "", "true"},
      {"no leading slash", R"({"value": 5})", equals("value", 5.0), json_failure::invalid_pointer,
       R"(pointer "value": invalid, expected "" or a pointer starting with "/")", ""},
      {"unknown escape", R"({"value": 5})", exists("/a~2"), json_failure::invalid_pointer,
       R"(pointer "/a~2": invalid escape at offset 2, expected "~0" or "~1")", ""},
      {"escape at the end", R"({"value": 5})", exists("/a/~"), json_failure::invalid_pointer,
       R"(pointer "/a/~": invalid escape at offset 3, expected "~0" or "~1")", ""},
      {"invalid pointer before invalid JSON", "{", exists("x"), json_failure::invalid_pointer,
       R"(pointer "x": invalid, expected "" or a pointer starting with "/")", ""},
  });
}

TEST_CASE("json check invalid documents") {
  const std::string prefix = "body is not valid JSON: ";
  const std::string ended_early =
      prefix + "JSON document ended early in the middle of an object or array";
  const std::string improper = prefix +
                               "The JSON document has an improper structure: missing or "
                               "superfluous commas, braces, missing keys, etc";
  const std::string trailing = prefix + "Unexpected trailing content in the JSON input";
  const std::string bad_number = prefix + "Problem while parsing a number";
  check_cases({
      {"not JSON", "<html>ready</html>", exists("/value"), json_failure::invalid_json, improper,
       ""},
      {"truncated object", R"({"value": 5)", exists("/value"), json_failure::invalid_json,
       ended_early, ""},
      {"truncated after a comma", R"({"value": 5,)", exists("/value"), json_failure::invalid_json,
       ended_early, ""},
      {"truncated string", R"({"value": "ab)", exists("/value"), json_failure::invalid_json,
       prefix + "A string is opened, but never closed", ""},
      {"truncated array", "[1, 2", exists("/0"), json_failure::invalid_json, ended_early, ""},
      // The last bracket closes an inner container, not the document.
      {"truncated after an inner object", R"({"value": 5, "x": {"y": 1})", exists("/value"),
       json_failure::invalid_json, improper, ""},
      {"truncated after an inner array", "[[1]", exists("/0"), json_failure::invalid_json, improper,
       ""},
      {"truncated after an empty object", R"({"value": {})", exists("/value"),
       json_failure::invalid_json, improper, ""},
      {"truncated inside, value found first", R"({"value": 5, "more": [1, 2)", exists("/value"),
       json_failure::invalid_json, ended_early, ""},
      {"trailing garbage", R"({"value":5} x)", exists("/value"), json_failure::invalid_json,
       ended_early, ""},
      {"a second document", R"({"value":5} {})", exists("/value"), json_failure::invalid_json,
       trailing, ""},
      {"extra closing brace", R"({"value":5}})", exists("/value"), json_failure::invalid_json,
       trailing, ""},
      {"scalar with trailing garbage", "5 x", exists(""), json_failure::invalid_json, trailing, ""},
      {"string with trailing garbage", R"("ready" x)", exists(""), json_failure::invalid_json,
       trailing, ""},
      {"true with trailing garbage", "true x", exists(""), json_failure::invalid_json, trailing,
       ""},
      {"null with trailing garbage", "null 1", exists(""), json_failure::invalid_json,
       prefix + "Problem while parsing an atom starting with the letter 'n'", ""},
      {"two root strings", R"("a" "b")", exists(""), json_failure::invalid_json, trailing, ""},
      {"trailing comma", "[1, 2,]", exists("/0"), json_failure::invalid_json, improper, ""},
      {"missing value", R"({"value": })", exists("/value"), json_failure::invalid_json, improper,
       ""},
      {"invalid literal after the value", R"({"value": 5, "x": tru})", exists("/value"),
       json_failure::invalid_json, prefix + "The JSON element does not have the requested type",
       ""},
      {"leading zero", R"({"value": 01})", exists("/value"), json_failure::invalid_json, bad_number,
       ""},
      {"bad escape", R"({"value": "\x"})", exists("/value"), json_failure::invalid_json,
       prefix + "Problem while parsing a string", ""},
      {"invalid UTF-8", "{\"value\": \"\xff\"}", exists("/value"), json_failure::invalid_json,
       prefix + "The input is not valid UTF-8", ""},
      {"empty body", "", exists(""), json_failure::invalid_json,
       "body is empty, expected a JSON document", ""},
      {"whitespace body", " \n", exists(""), json_failure::invalid_json,
       "body is empty, expected a JSON document", ""},
  });
}

TEST_CASE("json check nesting limit") {
  auto nested = [](int depth) { return std::string(depth, '[') + "5" + std::string(depth, ']'); };
  CHECK(evaluate(exists("/0/0/0"), nested(1024)).passed);

  for (int depth : {1025, 100'000}) {
    INFO(depth);
    sidecar::json_check_result result = evaluate(exists(""), nested(depth));
    CHECK_FALSE(result.passed);
    CHECK(result.reason == json_failure::invalid_json);
    CHECK(result.message ==
          "body is not valid JSON: The JSON document was too deep (too many nested objects and "
          "arrays)");
  }
}

TEST_CASE("json check 10 MiB body") {
  // An array of small objects, about 10 MiB, with the checked value at the end.
  std::string body = R"({"items": [)";
  while (body.size() < 10 * 1024 * 1024) body += R"({"id": 12345, "name": "item", "ok": true},)";
  body += R"({"id": 0}], "value": 5})";

  sidecar::json_check_result result = evaluate(equals("/value", 5.0), body);
  CHECK(result.passed);
  CHECK(result.message.empty());

  SECTION("long value is cut") {
    sidecar::json_check_result items = evaluate(type_is("/items", json_type::object), body);
    CHECK(items.reason == json_failure::wrong_type);
    REQUIRE(items.actual.size() == 256 + 3);
    CHECK(items.actual.substr(0, 12) == R"([{"id": 1234)");
    CHECK(items.actual.substr(256) == "...");
    CHECK(items.message == "/items is " + items.actual + " (an array), expected an object");
  }

  SECTION("truncated") {
    body.resize(body.size() - 1);
    sidecar::json_check_result truncated = evaluate(equals("/value", 5.0), body);
    CHECK(truncated.reason == json_failure::invalid_json);
    CHECK(truncated.message ==
          "body is not valid JSON: JSON document ended early in the middle of an object or array");
  }

  SECTION("trailing garbage") {
    body += " x";
    CHECK(evaluate(equals("/value", 5.0), body).reason == json_failure::invalid_json);
  }
}

TEST_CASE("json check cuts actual at UTF-8") {
  // 'é' is two bytes in UTF-8, and cutting at 256 bytes would split one.
  // The quote is one byte, so byte 256 is the second byte of an 'é'.
  std::string text = "\"";
  for (int i = 0; i < 200; ++i) text += "\xc3\xa9";
  text += "\"";
  sidecar::json_check_result result = evaluate(equals("", std::string("x")), text);
  CHECK(result.reason == json_failure::mismatch);
  CHECK(result.actual.size() == 255 + 3);
  CHECK(result.actual.substr(0, 3) == "\"\xc3\xa9");
  CHECK(result.actual.substr(253) == "\xc3\xa9...");
}

TEST_CASE("json names round trip") {
  for (json_type t : {json_type::null, json_type::boolean, json_type::number, json_type::string,
                      json_type::array, json_type::object}) {
    CHECK(sidecar::parse_json_type(sidecar::to_string(t)) == t);
  }
  for (json_op op : {json_op::equals, json_op::not_equals, json_op::less, json_op::less_equal,
                     json_op::greater, json_op::greater_equal, json_op::exists, json_op::type_is}) {
    CHECK(sidecar::parse_json_op(sidecar::to_string(op)) == op);
  }
  CHECK(sidecar::to_string(json_op::greater_equal) == "greater_equal");
  CHECK(sidecar::to_string(json_type::boolean) == "boolean");
  CHECK(sidecar::to_string(json_failure::invalid_pointer) == "invalid_pointer");
  CHECK_FALSE(sidecar::parse_json_type("bool").has_value());
  CHECK_FALSE(sidecar::parse_json_type("Number").has_value());
  CHECK_FALSE(sidecar::parse_json_op("==").has_value());
  CHECK_FALSE(sidecar::parse_json_op("").has_value());
}

TEST_CASE("json operand as text") {
  using sidecar::to_json_text;
  CHECK(to_json_text(std::monostate{}) == "null");
  CHECK(to_json_text(true) == "true");
  CHECK(to_json_text(false) == "false");
  CHECK(to_json_text(5.0) == "5");
  CHECK(to_json_text(-2.5) == "-2.5");
  CHECK(to_json_text(0.1) == "0.1");
  CHECK(to_json_text(1e21) == "1e+21");
  CHECK(to_json_text(std::string("ready")) == R"("ready")");
  CHECK(to_json_text(std::string("a\"b\\c\nd\x01")) == R"("a\"b\\c\nd\u0001")");
  CHECK(to_json_text(std::string("\xc3\xa9")) == "\"\xc3\xa9\"");
}
