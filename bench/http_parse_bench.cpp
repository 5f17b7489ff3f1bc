// Boost.Beast's request_parser, which the sidecar's server runs on every
// request, on the two requests a sidecar serves most: a kubelet readiness
// probe and a Prometheus scrape, with the header fields those clients send.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace {

namespace beast_http = boost::beast::http;

constexpr std::string_view probe_request =
    "GET /ready HTTP/1.1\r\n"
    "Host: 127.0.0.1:9090\r\n"
    "User-Agent: kube-probe/1.29\r\n"
    "Accept: */*\r\n"
    "Connection: close\r\n"
    "\r\n";

constexpr std::string_view scrape_request =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9090\r\n"
    "User-Agent: Prometheus/2.42.0\r\n"
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

void run_parse(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(8 * 1024);
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(text.data(), text.size()), ec);
    if (ec || used != text.size() || !parser.is_done()) {
      state.SkipWithError("request did not parse whole");
      return;
    }
    benchmark::DoNotOptimize(parser.get());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void bm_parse_probe_request(benchmark::State& state) { run_parse(state, probe_request); }
void bm_parse_scrape_request(benchmark::State& state) { run_parse(state, scrape_request); }

}  // namespace

BENCHMARK(bm_parse_probe_request);
BENCHMARK(bm_parse_scrape_request);

BENCHMARK_MAIN();
