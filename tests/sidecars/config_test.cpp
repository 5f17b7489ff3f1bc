// The config file of the ready-made sidecar: parsing, defaults, and the exact
// error messages, which are part of its interface.

#include "sidecar/config.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "support/process.hpp"

using namespace std::chrono_literals;
using sidecar::core::config_error;
using sidecar::core::parse_config;

namespace {

// The message of the config_error that parsing `yaml` throws, or "no error".
std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "sidecar.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

// A valid config with one probe duty whose single check is `check_lines`,
// indented under `checks:`.
std::string probe_with_check(const std::string& check_lines) {
  return "duties:\n"
         "  - name: ready\n"
         "    probe:\n"
         "      path: /ready\n"
         "      checks:\n" +
         check_lines;
}

const sidecar::core::probe_duty_config& probe_of(const sidecar::core::sidecar_config& config,
                                                 std::size_t index = 0) {
  return std::get<sidecar::core::probe_duty_config>(config.duties.at(index).kind);
}

const sidecar::http_check_spec& http_check_of(const sidecar::core::sidecar_config& config) {
  return std::get<sidecar::http_check_spec>(probe_of(config).checks.at(0).spec);
}

// The operand of the JSON check `equals: <operand>` as parsed.
sidecar::json_operand operand_of(const std::string& operand) {
  auto config = parse_config(probe_with_check("        - http: { url: /s }\n"
                                              "          expect: { json: { pointer: /v, equals: " +
                                              operand + " } }\n"),
                             "sidecar.yaml");
  return http_check_of(config).json.at(0).operand;
}

// The example of the config reference, with every key written out.
constexpr const char* full_example = R"(listen: 0.0.0.0:9090
app: http://127.0.0.1:8080
log_level: debug
shutdown: { grace: 7s, drain: 2s }
server: { max_connections: 128, read_timeout: 4s, idle_timeout: 30s }
duties:
  - name: ready
    probe:
      path: /ready
      mode: on_request
      every: 5s
      max_staleness: 500ms
      success_threshold: 2
      failure_threshold: 3
      checks:
        - name: status
          http: { url: /status.json, method: GET, timeout: 1s, connect_timeout: 300ms,
                  headers: { Accept: application/json }, body: "", max_body: 64KiB,
                  follow_redirects: true }
          expect:
            status: "200-299,304"
            json: { pointer: /value, equals: 5 }
            body: "ready|ok"
            headers: { Content-Type: { matches: "json" } }
        - tcp: { address: 127.0.0.1:5432, timeout: 2s }
        - file: { path: /tmp/app.ready, max_age: 30s }
  - name: latency
    latency:
      http: { url: /, timeout: 2s }
      every: 10s
      expect: { status: 200-399 }
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
  - name: flush
    schedule:
      http: { method: POST, url: /flush, timeout: 2s, headers: {}, body: "now" }
      every: 30s
      expect: { status: 200-299 }
)";

}  // namespace

TEST_CASE("config parses the full example", "[config]") {
  auto config = parse_config(full_example, "sidecar.yaml");

  CHECK(config.listen == "0.0.0.0:9090");
  CHECK(config.server.listen == "0.0.0.0:9090");
  CHECK(config.app_url == "http://127.0.0.1:8080");
  CHECK(config.level == sidecar::log_level::debug);
  CHECK(config.grace == 7s);
  CHECK(config.drain == 2s);
  CHECK(config.server.max_connections == 128);
  CHECK(config.server.read_timeout == 4s);
  CHECK(config.server.idle_timeout == 30s);
  REQUIRE(config.duties.size() == 3);

  SECTION("probe") {
    const auto& duty = config.duties[0];
    CHECK(duty.name == "ready");
    CHECK(sidecar::core::kind_name(duty) == "probe");
    const auto& probe = probe_of(config);
    CHECK(probe.path == "/ready");
    CHECK(probe.options.mode == sidecar::probe_mode::on_request);
    CHECK(probe.options.every == 5s);
    CHECK(probe.options.max_staleness == 500ms);
    CHECK(probe.options.success_threshold == 2);
    CHECK(probe.options.failure_threshold == 3);
    REQUIRE(probe.checks.size() == 3);
    CHECK(probe.checks[0].name == "status");
    CHECK(probe.checks[1].name == "tcp");
    CHECK(probe.checks[2].name == "file");
  }

  SECTION("http check") {
    const auto& http = http_check_of(config);
    CHECK(http.request.url == "http://127.0.0.1:8080/status.json");
    CHECK(http.request.method == "GET");
    CHECK(http.request.timeout == 1s);
    CHECK(http.request.connect_timeout == 300ms);
    CHECK(http.request.headers.get("accept") == "application/json");
    CHECK(http.request.body.empty());
    CHECK(http.request.max_body == 64 * 1024);
    CHECK(http.request.follow_redirects);
    CHECK(sidecar::format_status_ranges(http.status) == sidecar::format_status_ranges({{200, 299}, {304, 304}}));
    REQUIRE(http.json.size() == 1);
    CHECK(http.json[0].pointer == "/value");
    CHECK(http.json[0].op == sidecar::json_op::equals);
    CHECK(http.json[0].operand == sidecar::json_operand(5.0));
    REQUIRE(http.body.has_value());
    CHECK(http.body->pattern() == "ready|ok");
    REQUIRE(http.headers.size() == 1);
    CHECK(http.headers[0].name == "Content-Type");
    REQUIRE(http.headers[0].matches.has_value());
    CHECK(http.headers[0].matches->pattern() == "json");
    CHECK_FALSE(http.headers[0].equals.has_value());
  }

  SECTION("tcp and file checks") {
    const auto& tcp = std::get<sidecar::tcp_check_spec>(probe_of(config).checks[1].spec);
    CHECK(tcp.host == "127.0.0.1");
    CHECK(tcp.port == 5432);
    CHECK(tcp.timeout == 2s);
    const auto& file = std::get<sidecar::file_check_spec>(probe_of(config).checks[2].spec);
    CHECK(file.path == "/tmp/app.ready");
    CHECK(file.max_age == std::optional<std::chrono::milliseconds>(30s));
  }

  SECTION("latency") {
    const auto& latency = std::get<sidecar::core::latency_duty_config>(config.duties[1].kind);
    CHECK(config.duties[1].name == "latency");
    CHECK(latency.request.request.url == "http://127.0.0.1:8080/");
    CHECK(latency.request.request.timeout == 2s);
    CHECK(latency.every == 10s);
    CHECK(latency.buckets == std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  }

  SECTION("schedule") {
    const auto& schedule = std::get<sidecar::core::schedule_duty_config>(config.duties[2].kind);
    CHECK(config.duties[2].name == "flush");
    CHECK(schedule.request.request.method == "POST");
    CHECK(schedule.request.request.url == "http://127.0.0.1:8080/flush");
    CHECK(schedule.request.request.body == "now");
    CHECK(schedule.request.request.headers.empty());
    CHECK(schedule.every == 30s);
  }
}

TEST_CASE("config defaults", "[config]") {
  auto config = parse_config(R"(duties:
  - name: ready
    probe:
      path: /ready
      checks:
        - http: { url: /healthz }
  - name: latency
    latency:
      http: { url: / }
  - name: flush
    schedule:
      http: { url: /flush }
      every: 1m
)",
                             "sidecar.yaml");

  CHECK(config.listen == "127.0.0.1:9090");
  CHECK(config.app_url == "http://127.0.0.1:8080");
  CHECK(config.level == sidecar::log_level::info);
  CHECK(config.grace == 5s);
  CHECK(config.drain == 0s);
  CHECK(config.server.max_connections == 256);

  const auto& probe = probe_of(config);
  CHECK(probe.options.mode == sidecar::probe_mode::on_request);
  CHECK(probe.options.success_threshold == 1);
  CHECK(probe.options.failure_threshold == 1);
  CHECK(probe.options.max_staleness == 0s);
  const auto& http = http_check_of(config);
  CHECK(http.request.method == "GET");
  CHECK(http.request.timeout == 1s);
  CHECK(http.request.max_body == 1024 * 1024);
  CHECK_FALSE(http.request.follow_redirects);
  CHECK(sidecar::format_status_ranges(http.status) == sidecar::format_status_ranges({{200, 299}}));
  CHECK(http.json.empty());
  CHECK_FALSE(http.body.has_value());

  const auto& latency = std::get<sidecar::core::latency_duty_config>(config.duties[1].kind);
  CHECK(latency.every == 5s);
  CHECK(latency.buckets == sidecar::core::default_latency_buckets);
  CHECK(sidecar::format_status_ranges(latency.request.status) == sidecar::format_status_ranges({{200, 399}}));

  const auto& schedule = std::get<sidecar::core::schedule_duty_config>(config.duties[2].kind);
  CHECK(schedule.request.request.method == "GET");
  CHECK(schedule.every == 1min);
  CHECK(sidecar::format_status_ranges(schedule.request.status) == sidecar::format_status_ranges({{200, 299}}));
}

TEST_CASE("config app options", "[config]") {
  auto config = parse_config(full_example, "sidecar.yaml");
  sidecar::app_options options = sidecar::core::to_app_options(config);
  CHECK(options.server.listen == "0.0.0.0:9090");
  CHECK(options.server.max_connections == 128);
  CHECK(options.app_url == "http://127.0.0.1:8080");
  CHECK(options.level == sidecar::log_level::debug);
  CHECK(options.grace == 7s);
  CHECK(options.drain == 2s);
}

TEST_CASE("config unknown key suggestion", "[config]") {
  std::string yaml = "listen: 127.0.0.1:9090\n"
                     "app: http://127.0.0.1:8080\n"
                     "duties:\n"
                     "    - name: ready\n"
                     "      probe:\n"
                     "        path: /ready\n"
                     "        cheks:\n"
                     "          - http: { url: /status.json }\n";
  CHECK(error_of(yaml) == "sidecar.yaml:7:9: duties[0].probe.cheks: unknown key, did you mean \"checks\"?");

  SECTION("top level") {
    CHECK(error_of("lisen: 127.0.0.1:1\n") == "sidecar.yaml:1:1: lisen: unknown key, did you mean \"listen\"?");
  }
  SECTION("flow map") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, timout: 1s }\n")) ==
          "sidecar.yaml:6:28: duties[0].probe.checks[0].http.timout: unknown key, did you mean \"timeout\"?");
  }
  SECTION("no near key") {
    CHECK(error_of(probe_with_check("        - http: { url: /s }\n          retries: 3\n")) ==
          "sidecar.yaml:7:11: duties[0].probe.checks[0].retries: unknown key, expected one of name, http, "
          "tcp, file or expect");
  }
}

TEST_CASE("config duration errors", "[config]") {
  std::string yaml = "listen: 127.0.0.1:9090\n"
                     "duties:\n"
                     "  - name: ready\n"
                     "    probe:\n"
                     "      path: /ready\n"
                     "      checks:\n"
                     "        - http: { url: /status.json }\n"
                     "  - name: latency\n"
                     "    latency:\n"
                     "      http:\n"
                     "        url: /\n"
                     "      every: 5\n";
  CHECK(error_of(yaml) ==
        "sidecar.yaml:12:14: duties[1].latency.every: \"5\" is not a duration, expected a number with a "
        "unit such as 250ms, 5s or 1m");

  SECTION("zero where a positive duration is needed") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, timeout: 0s }\n")) ==
          "sidecar.yaml:6:37: duties[0].probe.checks[0].http.timeout: \"0s\" is too short, expected a "
          "duration of at least 1ms");
  }
  SECTION("longer than a year") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, timeout: 2562047h }\n")) ==
          "sidecar.yaml:6:37: duties[0].probe.checks[0].http.timeout: \"2562047h\" is too long, expected a "
          "duration of at most 8784h (366 days)");
  }
  SECTION("zero drain is allowed") {
    auto config = parse_config("shutdown: { drain: 0s, grace: 1m30s }\n" + probe_with_check("        - file: { path: /x }\n"),
                               "sidecar.yaml");
    CHECK(config.drain == 0s);
    CHECK(config.grace == 90s);
  }
  SECTION("a map where a duration is needed") {
    CHECK(error_of("shutdown: { grace: { s: 1 } }\n") ==
          "sidecar.yaml:1:20: shutdown.grace: expected a duration such as 250ms, 5s or 1m, found a map");
  }
}

TEST_CASE("config YAML syntax errors", "[config]") {
  SECTION("unclosed flow map") {
    CHECK(error_of("duties: { name: x\nother: 1\n") == "sidecar.yaml:2:6: invalid YAML: end of map flow not found");
  }
  SECTION("bad indentation") {
    CHECK(error_of("listen: 127.0.0.1:1\n  app: x\n") == "sidecar.yaml:2:6: invalid YAML: illegal map value");
  }
  SECTION("second document") {
    CHECK(error_of(probe_with_check("        - file: { path: /x }\n") + "---\nlisten: x\n") ==
          "sidecar.yaml:8:1: found a second YAML document, expected one");
  }
  SECTION("empty file") {
    CHECK(error_of("") == "sidecar.yaml: the file is empty, expected a map with a duties list");
  }
  SECTION("not a map") {
    CHECK(error_of("- a\n- b\n") == "sidecar.yaml:1:1: expected a map, found a list");
  }
}

TEST_CASE("config missing file", "[config]") {
  support::temp_dir dir;
  auto path = dir.path() / "absent.yaml";
  try {
    sidecar::core::load_config(path);
    FAIL("load_config accepted a missing file");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) == path.string() + ": cannot open file: No such file or directory");
    CHECK(e.position().line == 0);
    CHECK(e.file() == path.string());
  }
}

TEST_CASE("config error carries its position", "[config]") {
  try {
    parse_config(probe_with_check("        - http: { url: /s, method: get }\n"), "conf/sc.yaml");
    FAIL("parse_config accepted a lower-case method");
  } catch (const config_error& e) {
    CHECK(e.file() == "conf/sc.yaml");
    CHECK(e.position().line == 6);
    CHECK(e.position().column == 36);
    CHECK(e.position().key_path == "duties[0].probe.checks[0].http.method");
    CHECK(e.problem() == "\"get\" is not an HTTP method, expected an upper-case method such as GET or POST");
  }
}

TEST_CASE("config duplicate duty names", "[config]") {
  std::string yaml = "duties:\n"
                     "  - name: ready\n"
                     "    probe: { path: /ready, checks: [ { file: { path: /x } } ] }\n"
                     "  - name: ready\n"
                     "    probe: { path: /other, checks: [ { file: { path: /x } } ] }\n";
  CHECK(error_of(yaml) ==
        "sidecar.yaml:4:11: duties[1].name: \"ready\" is already the name of duties[0], expected a unique "
        "duty name");
}

TEST_CASE("config duplicate probe paths", "[config]") {
  std::string yaml = "duties:\n"
                     "  - name: ready\n"
                     "    probe: { path: /ready, checks: [ { file: { path: /x } } ] }\n"
                     "  - name: also-ready\n"
                     "    probe: { path: /ready, checks: [ { file: { path: /y } } ] }\n";
  CHECK(error_of(yaml) ==
        "sidecar.yaml:5:20: duties[1].probe.path: \"/ready\" is already the path of duties[0], expected a "
        "unique probe path");
}

TEST_CASE("config reserved probe paths", "[config]") {
  for (std::string path : {"/metrics", "/live", "/", "/-/reload"}) {
    INFO("path " << path);
    std::string yaml = "duties:\n"
                       "  - name: ready\n"
                       "    probe: { path: " +
                       path + ", checks: [ { file: { path: /x } } ] }\n";
    CHECK(error_of(yaml) == "sidecar.yaml:3:20: duties[0].probe.path: \"" + path +
                                "\" is served by the sidecar itself, expected a path other than /, /live, "
                                "/metrics and /-/reload");
  }
}

TEST_CASE("config JSON operand typing", "[config]") {
  CHECK(operand_of("5") == sidecar::json_operand(5.0));
  CHECK(operand_of("-1.5e3") == sidecar::json_operand(-1500.0));
  CHECK(operand_of("+2") == sidecar::json_operand(2.0));
  CHECK(operand_of("\"5\"") == sidecar::json_operand(std::string("5")));
  CHECK(operand_of("'5'") == sidecar::json_operand(std::string("5")));
  CHECK(operand_of("!!str 5") == sidecar::json_operand(std::string("5")));
  CHECK(operand_of("true") == sidecar::json_operand(true));
  CHECK(operand_of("False") == sidecar::json_operand(false));
  CHECK(operand_of("\"true\"") == sidecar::json_operand(std::string("true")));
  CHECK(operand_of("null") == sidecar::json_operand(std::monostate{}));
  CHECK(operand_of("~") == sidecar::json_operand(std::monostate{}));
  CHECK(operand_of("\"null\"") == sidecar::json_operand(std::string("null")));
  CHECK(operand_of("ready") == sidecar::json_operand(std::string("ready")));
  CHECK(operand_of("0x10") == sidecar::json_operand(std::string("0x10")));
  CHECK(operand_of("1.2.3") == sidecar::json_operand(std::string("1.2.3")));
}

TEST_CASE("config JSON check forms", "[config]") {
  auto parse_json = [](const std::string& json) {
    return http_check_of(parse_config(
                             probe_with_check("        - http: { url: /s }\n          expect: { json: " + json + " }\n"),
                             "sidecar.yaml"))
        .json;
  };

  SECTION("a list of checks") {
    auto checks = parse_json("[ { pointer: /a, exists: true }, { pointer: /b, type: number }, "
                             "{ pointer: \"\", not_equals: null } ]");
    REQUIRE(checks.size() == 3);
    CHECK(checks[0].op == sidecar::json_op::exists);
    CHECK(checks[1].op == sidecar::json_op::type_is);
    CHECK(checks[1].type == sidecar::json_type::number);
    CHECK(checks[2].pointer.empty());
    CHECK(checks[2].op == sidecar::json_op::not_equals);
  }
  SECTION("every comparison") {
    struct comparison_case {
      std::string key;
      sidecar::json_op op;
    };
    for (const auto& c : {comparison_case{"equals", sidecar::json_op::equals},
                          comparison_case{"not_equals", sidecar::json_op::not_equals},
                          comparison_case{"less_than", sidecar::json_op::less},
                          comparison_case{"less_or_equal", sidecar::json_op::less_equal},
                          comparison_case{"greater_than", sidecar::json_op::greater},
                          comparison_case{"greater_or_equal", sidecar::json_op::greater_equal}}) {
      INFO("comparison " << c.key);
      auto checks = parse_json("{ pointer: /n, " + c.key + ": 3 }");
      REQUIRE(checks.size() == 1);
      CHECK(checks[0].op == c.op);
      CHECK(checks[0].operand == sidecar::json_operand(3.0));
    }
  }
}

TEST_CASE("config JSON check errors", "[config]") {
  auto error_of_json = [](const std::string& json) {
    return error_of(probe_with_check("        - http: { url: /s }\n          expect:\n            json: " + json + "\n"));
  };

  CHECK(error_of_json("{ pointer: /v }") ==
        "sidecar.yaml:8:19: duties[0].probe.checks[0].expect.json: missing the comparison, expected one of "
        "equals, not_equals, less_than, less_or_equal, greater_than, greater_or_equal, exists or type");
  CHECK(error_of_json("{ pointer: /v, equals: 1, less_than: 2 }") ==
        "sidecar.yaml:8:45: duties[0].probe.checks[0].expect.json.less_than: a JSON check has one "
        "comparison, found both equals and less_than; use a list for several");
  CHECK(error_of_json("{ pointer: v, equals: 1 }") ==
        "sidecar.yaml:8:30: duties[0].probe.checks[0].expect.json.pointer: \"v\" is not a JSON pointer, "
        "expected \"\" for the whole document or a pointer starting with \"/\"");
  CHECK(error_of_json("{ equals: 1 }") ==
        "sidecar.yaml:8:19: duties[0].probe.checks[0].expect.json.pointer: missing key, expected a JSON "
        "pointer such as /status");
  CHECK(error_of_json("{ pointer: /v, less_than: true }") ==
        "sidecar.yaml:8:45: duties[0].probe.checks[0].expect.json.less_than: true has no order, expected a "
        "number or a string");
  CHECK(error_of_json("{ pointer: /v, exists: false }") ==
        "sidecar.yaml:8:42: duties[0].probe.checks[0].expect.json.exists: false is not supported, expected "
        "true");
  CHECK(error_of_json("{ pointer: /v, type: numbr }") ==
        "sidecar.yaml:8:40: duties[0].probe.checks[0].expect.json.type: \"numbr\" is not a JSON type, "
        "expected null, boolean, number, string, array or object");
  CHECK(error_of_json("{ pointer: /v, equals: [1] }") ==
        "sidecar.yaml:8:42: duties[0].probe.checks[0].expect.json.equals: expected a number, a string, true, "
        "false or null, found a list");
  CHECK(error_of_json("[ { pointer: /a, equal: 1 } ]") ==
        "sidecar.yaml:8:36: duties[0].probe.checks[0].expect.json[0].equal: unknown key, did you mean "
        "\"equals\"?");
}

TEST_CASE("config check names", "[config]") {
  auto names_of = [](const std::string& checks) {
    auto config = parse_config(probe_with_check(checks), "sidecar.yaml");
    std::vector<std::string> names;
    for (const auto& check : probe_of(config).checks) {
      names.push_back(check.name);
    }
    return names;
  };

  CHECK(names_of("        - http: { url: /a }\n"
                 "        - tcp: { address: 127.0.0.1:1 }\n") == std::vector<std::string>{"http", "tcp"});
  CHECK(names_of("        - http: { url: /a }\n"
                 "        - http: { url: /b }\n"
                 "        - file: { path: /x }\n") == std::vector<std::string>{"http-1", "http-2", "file"});
  CHECK(names_of("        - { name: api, http: { url: /a } }\n"
                 "        - http: { url: /b }\n") == std::vector<std::string>{"api", "http"});

  SECTION("repeated name") {
    CHECK(error_of(probe_with_check("        - { name: api, http: { url: /a } }\n"
                                    "        - { name: api, tcp: { address: 127.0.0.1:1 } }\n")) ==
          "sidecar.yaml:7:19: duties[0].probe.checks[1].name: \"api\" is already the name of checks[0], "
          "expected a unique check name");
  }
  SECTION("generated name taken by a named check") {
    CHECK(error_of(probe_with_check("        - { name: http, tcp: { address: 127.0.0.1:1 } }\n"
                                    "        - http: { url: /b }\n")) ==
          "sidecar.yaml:7:11: duties[0].probe.checks[1]: \"http\" is already the name of checks[0], expected "
          "a unique check name");
  }
}

TEST_CASE("config URLs resolve against app", "[config]") {
  auto config = parse_config("app: http://10.0.0.7:3000/base\n" +
                                 probe_with_check("        - http: { url: \"/status?x=1\" }\n"
                                                  "        - http: { url: \"http://127.0.0.1:9/other\" }\n"),
                             "sidecar.yaml");
  const auto& checks = probe_of(config).checks;
  CHECK(std::get<sidecar::http_check_spec>(checks[0].spec).request.url == "http://10.0.0.7:3000/status?x=1");
  CHECK(std::get<sidecar::http_check_spec>(checks[1].spec).request.url == "http://127.0.0.1:9/other");

  SECTION("app after duties") {
    auto later = parse_config(probe_with_check("        - http: { url: /s }\n") + "app: http://127.0.0.1:7\n",
                              "sidecar.yaml");
    CHECK(http_check_of(later).request.url == "http://127.0.0.1:7/s");
  }
  SECTION("invalid app URL") {
    CHECK_THAT(error_of("app: ftp://x\n"), Catch::StartsWith("sidecar.yaml:1:6: app: "));
  }
  SECTION("invalid check URL") {
    CHECK_THAT(error_of(probe_with_check("        - http: { url: \"ftp://x/\" }\n")),
               Catch::StartsWith("sidecar.yaml:6:24: duties[0].probe.checks[0].http.url: "));
  }
}

TEST_CASE("config expectations", "[config]") {
  auto expect = [](const std::string& expect) {
    return http_check_of(
        parse_config(probe_with_check("        - http: { url: /s }\n          expect: " + expect + "\n"), "sidecar.yaml"));
  };

  SECTION("status forms") {
    CHECK(sidecar::format_status_ranges(expect("{ status: 200 }").status) ==
          sidecar::format_status_ranges({{200, 200}}));
    CHECK(sidecar::format_status_ranges(expect("{ status: 2xx }").status) ==
          sidecar::format_status_ranges({{200, 299}}));
    CHECK(sidecar::format_status_ranges(expect("{ status: [200, 301-302] }").status) ==
          sidecar::format_status_ranges({{200, 200}, {301, 302}}));
  }
  SECTION("header forms") {
    auto headers = expect("{ headers: { X-A: present, X-B: { equals: \"1\" } } }").headers;
    REQUIRE(headers.size() == 2);
    CHECK(headers[0].name == "X-A");
    CHECK_FALSE(headers[0].equals.has_value());
    CHECK_FALSE(headers[0].matches.has_value());
    CHECK(headers[1].name == "X-B");
    CHECK(headers[1].equals == std::optional<std::string>("1"));

    auto presence = expect("{ headers: \"X-A: present\" }").headers;
    REQUIRE(presence.size() == 1);
    CHECK(presence[0].name == "X-A");
    auto listed = expect("{ headers: [\"X-A: present\", \"ETag: present\"] }").headers;
    REQUIRE(listed.size() == 2);
    CHECK(listed[1].name == "ETag");
  }
  SECTION("errors") {
    CHECK(error_of(probe_with_check("        - http: { url: /s }\n          expect: { status: 2000 }\n")) ==
          "sidecar.yaml:7:29: duties[0].probe.checks[0].expect.status: \"2000\" is not a status range, expected "
          "codes, ranges or classes such as 200, 200-299 or 2xx, separated by commas");
    CHECK_THAT(error_of(probe_with_check("        - http: { url: /s }\n          expect: { body: \"(\" }\n")),
               Catch::StartsWith("sidecar.yaml:7:27: duties[0].probe.checks[0].expect.body: \"(\" is not a valid "
                                 "RE2 regex: "));
    CHECK(error_of(probe_with_check("        - http: { url: /s }\n          expect: { headers: { X-A: absent } }\n")) ==
          "sidecar.yaml:7:37: duties[0].probe.checks[0].expect.headers.X-A: expected present or a map with "
          "equals or matches, found \"absent\"");
    CHECK(error_of(probe_with_check("        - http: { url: /s }\n          expect: { headers: \"X-A\" }\n")) ==
          "sidecar.yaml:7:30: duties[0].probe.checks[0].expect.headers: \"X-A\" is not a header expectation, "
          "expected \"Name: present\" or a map");
    CHECK(error_of(probe_with_check("        - tcp: { address: 127.0.0.1:1 }\n          expect: { status: 200 }\n")) ==
          "sidecar.yaml:7:19: duties[0].probe.checks[0].expect: only an http check has expectations, this is a "
          "tcp check");
  }
}

TEST_CASE("config duty shape errors", "[config]") {
  SECTION("missing duties") {
    CHECK(error_of("listen: 127.0.0.1:1\n") ==
          "sidecar.yaml:1:1: duties: missing key, expected a list of duties");
  }
  SECTION("empty duties") {
    CHECK(error_of("duties: []\n") == "sidecar.yaml:1:9: duties: the list is empty, expected at least one duty");
  }
  SECTION("duties not a list") {
    CHECK(error_of("duties: { name: x }\n") == "sidecar.yaml:1:9: duties: expected a list of duties, found a map");
  }
  SECTION("missing name") {
    CHECK(error_of("duties:\n  - probe: { path: /r, checks: [ { file: { path: /x } } ] }\n") ==
          "sidecar.yaml:2:5: duties[0].name: missing key, expected a duty name such as ready");
  }
  SECTION("invalid name") {
    CHECK(error_of("duties:\n  - name: Ready\n") ==
          "sidecar.yaml:2:11: duties[0].name: \"Ready\" is not a valid name, expected lower-case letters, "
          "digits, \"_\" and \"-\"");
  }
  SECTION("missing kind") {
    CHECK(error_of("duties:\n  - name: ready\n") ==
          "sidecar.yaml:2:5: duties[0]: missing the duty kind, expected one of probe, latency or schedule");
  }
  SECTION("two kinds") {
    CHECK(error_of("duties:\n  - name: x\n    probe: {}\n    latency: {}\n") ==
          "sidecar.yaml:4:5: duties[0].latency: a duty has one kind, found both probe and latency");
  }
  SECTION("missing check kind") {
    CHECK(error_of(probe_with_check("        - name: api\n")) ==
          "sidecar.yaml:6:11: duties[0].probe.checks[0]: missing the check kind, expected one of http, tcp or "
          "file");
  }
  SECTION("empty checks") {
    CHECK(error_of(probe_with_check("        []\n")) ==
          "sidecar.yaml:6:9: duties[0].probe.checks: the list is empty, expected at least one check");
  }
  SECTION("repeated key") {
    CHECK(error_of("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n") ==
          "sidecar.yaml:2:1: listen: repeated key, first given on line 1");
  }
  SECTION("probe path without slash") {
    CHECK(error_of("duties:\n  - name: r\n    probe: { path: ready }\n") ==
          "sidecar.yaml:3:20: duties[0].probe.path: \"ready\" is not a path, expected a path such as /ready "
          "without a query");
  }
  SECTION("schedule without every") {
    CHECK(error_of("duties:\n  - name: f\n    schedule: { http: { url: /f } }\n") ==
          "sidecar.yaml:3:15: duties[0].schedule.every: missing key, expected a duration such as 30s");
  }
}

TEST_CASE("config value errors", "[config]") {
  SECTION("log level") {
    CHECK(error_of("log_level: verbose\n") ==
          "sidecar.yaml:1:12: log_level: \"verbose\" is not a log level, expected debug, info, warn or error");
  }
  SECTION("listen address") {
    CHECK_THAT(error_of("listen: nowhere\n"), Catch::StartsWith("sidecar.yaml:1:9: listen: "));
  }
  SECTION("probe mode") {
    CHECK(error_of("duties:\n  - name: r\n    probe: { path: /r, mode: sometimes }\n") ==
          "sidecar.yaml:3:30: duties[0].probe.mode: \"sometimes\" is not a probe mode, expected on_request or "
          "periodic");
  }
  SECTION("threshold") {
    CHECK(error_of("duties:\n  - name: r\n    probe: { path: /r, failure_threshold: 0 }\n") ==
          "sidecar.yaml:3:43: duties[0].probe.failure_threshold: \"0\" is too small, expected at least 1");
    CHECK(error_of("duties:\n  - name: r\n    probe: { path: /r, success_threshold: 1.5 }\n") ==
          "sidecar.yaml:3:43: duties[0].probe.success_threshold: \"1.5\" is not a whole number, expected a "
          "number such as 1 or 3");
  }
  SECTION("size") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, max_body: 1MB }\n")) ==
          "sidecar.yaml:6:38: duties[0].probe.checks[0].http.max_body: \"1MB\" is not a size, expected a number "
          "of bytes such as 512, 64KiB or 1MiB");
  }
  SECTION("boolean") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, follow_redirects: yes }\n")) ==
          "sidecar.yaml:6:46: duties[0].probe.checks[0].http.follow_redirects: expected true or false, found "
          "\"yes\"");
  }
  SECTION("request header value") {
    CHECK(error_of(probe_with_check("        - http: { url: /s, headers: { X-A: [1] } }\n")) ==
          "sidecar.yaml:6:44: duties[0].probe.checks[0].http.headers.X-A: expected a string, found a list");
  }
  SECTION("tcp address") {
    CHECK(error_of(probe_with_check("        - tcp: { address: localhost }\n")) ==
          "sidecar.yaml:6:27: duties[0].probe.checks[0].tcp.address: \"localhost\" is not an address, expected "
          "host:port such as 127.0.0.1:5432");
    CHECK(error_of(probe_with_check("        - tcp: { address: 127.0.0.1:0 }\n")) ==
          "sidecar.yaml:6:27: duties[0].probe.checks[0].tcp.address: \"127.0.0.1:0\" has port 0, expected a "
          "port from 1 to 65535");
  }
  SECTION("buckets") {
    std::string latency = "duties:\n  - name: l\n    latency: { http: { url: / }, buckets: ";
    CHECK(error_of(latency + "[0.1, 0.1] }\n") ==
          "sidecar.yaml:3:49: duties[0].latency.buckets[1]: 0.1 is not above the bound before it, expected "
          "increasing bounds");
    CHECK(error_of(latency + "[0] }\n") ==
          "sidecar.yaml:3:44: duties[0].latency.buckets[0]: 0 is not positive, expected a bound above 0 seconds");
    CHECK(error_of(latency + "[fast] }\n") ==
          "sidecar.yaml:3:44: duties[0].latency.buckets[0]: expected a number of seconds, found \"fast\"");
  }
}

TEST_CASE("parse_size units", "[config]") {
  using sidecar::core::parse_size;
  CHECK(parse_size("512") == std::optional<std::size_t>(512));
  CHECK(parse_size("64KiB") == std::optional<std::size_t>(64 * 1024));
  CHECK(parse_size("1MiB") == std::optional<std::size_t>(1024 * 1024));
  CHECK(parse_size("2GiB") == std::optional<std::size_t>(std::size_t{2} << 30));
  CHECK_FALSE(parse_size("1MB").has_value());
  CHECK_FALSE(parse_size("MiB").has_value());
  CHECK_FALSE(parse_size("").has_value());
  CHECK_FALSE(parse_size("-1").has_value());
  CHECK_FALSE(parse_size("1.5MiB").has_value());
  CHECK_FALSE(parse_size("99999999999999999999").has_value());
  CHECK_FALSE(parse_size("17179869184GiB").has_value());
}

TEST_CASE("nearest key suggestions", "[config]") {
  using sidecar::core::edit_distance;
  using sidecar::core::nearest_key;
  constexpr std::string_view keys[] = {"path", "mode", "every", "checks", "max_staleness"};

  CHECK(edit_distance("cheks", "checks") == 1);
  CHECK(edit_distance("chekcs", "checks") == 1);
  CHECK(edit_distance("", "path") == 4);
  CHECK(edit_distance("path", "path") == 0);

  CHECK(nearest_key("cheks", keys) == std::optional<std::string_view>("checks"));
  CHECK(nearest_key("evrey", keys) == std::optional<std::string_view>("every"));
  CHECK(nearest_key("max_stalenes", keys) == std::optional<std::string_view>("max_staleness"));
  CHECK(nearest_key("Path", keys) == std::optional<std::string_view>("path"));
  CHECK_FALSE(nearest_key("timeout", keys).has_value());
  CHECK_FALSE(nearest_key("x", keys).has_value());
}

TEST_CASE("is_valid_name rules", "[config]") {
  using sidecar::core::is_valid_name;
  CHECK(is_valid_name("ready"));
  CHECK(is_valid_name("api-2_x"));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name("Ready"));
  CHECK_FALSE(is_valid_name("a b"));
  CHECK_FALSE(is_valid_name("a.b"));
}

// --- the binary's command line ----------------------------------------------

namespace {

std::string sidecar_binary() { return std::string(SIDECAR_BIN_DIR) + "/sidecar"; }

struct run_result {
  int status;
  std::string out;
  std::string err;
};

run_result run_sidecar(std::vector<std::string> args) {
  args.insert(args.begin(), sidecar_binary());
  support::process child(args);
  auto status = child.wait_for_exit(10s);
  REQUIRE(status.has_value());
  return {*status, child.stdout_content(), child.stderr_content()};
}

}  // namespace

TEST_CASE("check-config accepts the example", "[config][command]") {
  std::string example = std::string(SIDECAR_SOURCE_DIR) + "/deploy/examples/sidecar.yaml";
  auto result = run_sidecar({"--check-config", example});
  CHECK(result.status == 0);
  CHECK(result.out == example + ": ok\n");
  CHECK(result.err.empty());

  // The demo config must also be what the demo needs.
  auto config = sidecar::core::load_config(example);
  REQUIRE(config.duties.size() == 3);
  const auto& probe = probe_of(config);
  CHECK(probe.path == "/ready");
  const auto& status = std::get<sidecar::http_check_spec>(probe.checks.at(0).spec);
  CHECK(status.request.url == "http://127.0.0.1:8080/status.json");
  REQUIRE(status.json.size() == 1);
  CHECK(status.json[0].pointer == "/value");
  CHECK(status.json[0].operand == sidecar::json_operand(5.0));
  const auto& flush = std::get<sidecar::core::schedule_duty_config>(config.duties[2].kind);
  CHECK(flush.request.request.method == "POST");
  CHECK(flush.request.request.url == "http://127.0.0.1:8080/flush");
  CHECK(flush.every == 30s);
}

TEST_CASE("check-config rejects an invalid file", "[config][command]") {
  support::temp_dir dir;
  dir.write_file("bad.yaml", "duties:\n  - name: ready\n    probe: { path: /ready, cheks: [] }\n");
  std::string file = (dir.path() / "bad.yaml").string();

  auto result = run_sidecar({"--check-config=" + file});
  CHECK(result.status == 1);
  CHECK(result.out.empty());
  CHECK(result.err == file + ":3:28: duties[0].probe.cheks: unknown key, did you mean \"checks\"?\n");
}

TEST_CASE("command line flags", "[config][command]") {
  SECTION("version") {
    auto result = run_sidecar({"--version"});
    CHECK(result.status == 0);
    CHECK(result.out == std::string("sidecar ") + SIDECAR_VERSION + "\n");
  }
  SECTION("help") {
    auto result = run_sidecar({"--help"});
    CHECK(result.status == 0);
    CHECK_THAT(result.out, Catch::StartsWith("usage: sidecar --config FILE"));
  }
  SECTION("unknown flag") {
    auto result = run_sidecar({"--frobnicate"});
    CHECK(result.status == 2);
    CHECK(result.out.empty());
    CHECK_THAT(result.err, Catch::StartsWith("sidecar: unknown option \"--frobnicate\"\nusage: "));
  }
  SECTION("missing file argument") {
    auto result = run_sidecar({"--config"});
    CHECK(result.status == 2);
    CHECK_THAT(result.err, Catch::StartsWith("sidecar: option --config needs a file\n"));
  }
  SECTION("no arguments") {
    CHECK(run_sidecar({}).status == 2);
  }
  SECTION("run with an invalid config") {
    support::temp_dir dir;
    dir.write_file("bad.yaml", "duties: []\n");
    std::string file = (dir.path() / "bad.yaml").string();
    auto result = run_sidecar({"--config", file});
    CHECK(result.status == 1);
    CHECK_THAT(result.err, Catch::Contains("\"level\":\"error\",\"duty\":\"main\",\"msg\":\"config invalid\""));
    CHECK_THAT(result.err, Catch::Contains("duties: the list is empty, expected at least one duty"));
  }
}
