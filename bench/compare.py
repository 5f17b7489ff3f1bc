"""Benchmarks the sidecar against the programs users deploy instead of it.

Run it through bench/compare, which installs the packages first. Each section
starts the programs it compares on 127.0.0.1, loads them one at a time in the
same run, and stops them again. The results go into docs/benchmarks.md
between its result markers, into docs/benchmarks-results.json (so that
--only can rerun one section and keep the others), and into the chart
docs/benchmarks-ratios.png.

Adding a section takes a function that returns a section_result and one line
in SECTIONS.
"""

import argparse
import dataclasses
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
RESULTS = os.path.join(ROOT, "docs", "benchmarks-results.json")
CHART = os.path.join(ROOT, "docs", "benchmarks-ratios.png")
BEGIN_MARK = "<!-- bench/compare results begin -->"
END_MARK = "<!-- bench/compare results end -->"

NGINX = "/usr/sbin/nginx"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
PYTHON = "/usr/bin/python3"  # Debian's, which has the python3-* packages
WRK = "/usr/bin/wrk"
GNUPLOT = "/usr/bin/gnuplot"

# The main app's status document; every peer checks that "value" is 5.
STATUS_JSON = '{"value": 5, "name": "bench", "checked": ["db", "cache", "queue"]}\n'
# The app's front page, which the latency checks time.
INDEX_HTML = "<!doctype html>\n<title>app</title>\n<p>" + "The main app's front page. " * 20 + "</p>\n"

# wrk's load, the same for every peer: 2 threads, 16 keep-alive connections.
WRK_THREADS = 2
WRK_CONNECTIONS = 16

# The kubelet's default periodSeconds, used for the periodic probe mode.
PERIODIC_EVERY = "10s"


# ---------------------------------------------------------------------------
# Settings of one run


@dataclasses.dataclass
class settings:
    quick: bool
    runs: int  # repetitions of every load, at least 3
    duration: int  # seconds of each wrk run
    warmup: int  # seconds of an unrecorded wrk run before the recorded ones
    startups: int  # repetitions of each start-up measurement
    build_dir: str
    bench_min_time: float  # Google Benchmark's --benchmark_min_time
    scale_sizes: list


def make_settings(args):
    quick = args.quick
    return settings(
        quick=quick,
        runs=args.runs or 3,
        duration=args.duration or (2 if quick else 10),
        warmup=0 if quick else 1,
        startups=5 if quick else 10,
        build_dir=os.path.abspath(args.build_dir),
        bench_min_time=0.05 if quick else 0.5,
        scale_sizes=[1, 10, 100, 1000],
    )


# ---------------------------------------------------------------------------
# Processes: every program started here is stopped by its PID on exit


class processes:
    def __init__(self, directory):
        self.directory = directory
        self.running = {}  # pid -> (name, Popen)
        self.commands = []  # every command line run, in order, for the report

    def record(self, argv):
        self.commands.append(" ".join(shlex.quote(str(a)) for a in argv))

    def start(self, name, argv):
        """Start `argv` with its output in DIRECTORY/NAME.log."""
        self.record(argv)
        log = open(os.path.join(self.directory, name + ".log"), "ab")
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.running[proc.pid] = (name, proc)
        return proc

    def stop(self, proc, timeout=5):
        """Send SIGTERM, then SIGKILL when the process is still there after `timeout` s."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running.pop(proc.pid, None)

    def stop_all(self):
        for _, proc in list(self.running.values()):
            self.stop(proc)

    def run(self, argv, timeout):
        """Run `argv` to completion and return its standard output."""
        self.record(argv)
        done = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]}: exited with status {done.returncode}: "
                               f"{done.stderr.strip()[-500:]}")
        return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """Return the PIDs of `pid` and of all its children, grandchildren and so on."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User plus system CPU time of `pids`, each counting all its threads."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def memory_kib(pids):
    """VmRSS and RssAnon of `pids`, summed, in KiB."""
    rss = anon = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
    return rss, anon


# ---------------------------------------------------------------------------
# HTTP


def http_get(url, timeout=2):
    """GET `url` on a new connection; return (status, body text)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def good_response(url, expect=None):
    try:
        status, body = http_get(url)
    except OSError:
        return False
    return status == 200 and (expect is None or expect in body)


def wait_for_response(url, proc, name, expect=None, timeout=15):
    """Wait until `url` responds 200 (with `expect` in the body); raise when `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if good_response(url, expect):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: exited with status {proc.returncode} before {url} responded")
        time.sleep(0.02)
    raise RuntimeError(f"{name}: no good response from {url} within {timeout} s")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(output):
    """Parse requests/s, total requests, non-2xx responses, socket errors and p50/p99 in ms."""

    def latency(percent):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not match:
            raise RuntimeError(f"wrk: no {percent}% latency in its output:\n{output}")
        return float(match.group(1)) * UNITS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    if not rate or not total:
        raise RuntimeError(f"wrk: no request rate in its output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(rate.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "p50_ms": latency(50),
        "p99_ms": latency(99),
    }


# ---------------------------------------------------------------------------
# Statistics and formatting


def spread(values):
    """Median, minimum and maximum of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def number(value, digits=None):
    if value is None:
        return "-"
    if digits is None:
        # Three significant digits or so: 12,345 / 12.3 / 1.23 / 0.123.
        if abs(value) >= 100:
            digits = 0
        elif abs(value) >= 10:
            digits = 1
        elif abs(value) >= 1:
            digits = 2
        else:
            digits = 3
    return f"{value:,.{digits}f}"


def ranged(stat, digits=None):
    """'median (min-max)' of a spread()."""
    if stat is None:
        return "-"
    if stat["min"] == stat["max"]:
        return number(stat["median"], digits)
    return (f"{number(stat['median'], digits)} "
            f"({number(stat['min'], digits)}–{number(stat['max'], digits)})")


def ratio_text(value):
    if value is None:
        return "-"
    if value < 100:
        return f"{value:,.1f}×"
    return f"{value:,.0f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mib(kib):
    return None if kib is None else kib / 1024


@dataclasses.dataclass
class section_result:
    title: str
    markdown: str  # tables and notes, without the title
    ratios: list = dataclasses.field(default_factory=list)  # {"metric", "peer", "value"}
    targets: list = dataclasses.field(default_factory=list)  # {"bar", "measured", "met"}
    raw: dict = dataclasses.field(default_factory=dict)


def target_row(bar, measured, met):
    return {"bar": bar, "measured": measured, "met": bool(met)}


# ---------------------------------------------------------------------------
# The programs under test


class bench_context:
    """State shared by the sections: settings, the process list, a temporary directory and the app."""

    def __init__(self, config, directory):
        self.config = config
        self.directory = directory
        self.procs = processes(directory)
        self.app = None
        self.sidecar = os.path.join(config.build_dir, "bin", "sidecar")
        self.first_response = os.path.join(config.build_dir, "bin", "first_response")

    def path(self, name):
        return os.path.join(self.directory, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)


NGINX_CONFIG = """\
# The main app of the benchmarks. Debian's nginx.conf settings, except that
# nothing is logged per request (no peer logs its requests) and
# stub_status counts the requests that reach the app.
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path {prefix}/temp;
  proxy_temp_path {prefix}/temp;
  fastcgi_temp_path {prefix}/temp;
  uwsgi_temp_path {prefix}/temp;
  scgi_temp_path {prefix}/temp;
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/html;
    index index.html;
    location = /nginx_status {{ stub_status; }}
  }}
}}
"""


class nginx_app:
    """An nginx serving the status document, the front page and copies of other bodies."""

    def __init__(self, ctx, name="app"):
        self.ctx = ctx
        self.prefix = ctx.path(name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        os.makedirs(os.path.join(self.prefix, "html"), exist_ok=True)
        os.makedirs(os.path.join(self.prefix, "temp"), exist_ok=True)
        self.put("status.json", STATUS_JSON)
        self.put("index.html", INDEX_HTML)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONFIG.format(prefix=self.prefix, port=self.port))
        self.argv = [NGINX, "-p", self.prefix + "/", "-c", self.conf]
        self.proc = ctx.procs.start(name, self.argv)
        wait_for_response(self.url + "/status.json", self.proc, "nginx")

    def put(self, relative, text):
        with open(os.path.join(self.prefix, "html", relative), "w") as f:
            f.write(text)

    def pids(self):
        return descendants(self.proc.pid)

    def counters(self):
        """Connections accepted and requests served, from stub_status (this request included)."""
        _, body = http_get(self.url + "/nginx_status")
        accepts, _, requests = body.split("\n")[2].split()
        return int(accepts), int(requests)

    def stop(self):
        self.ctx.procs.stop(self.proc)


def probe_duty(name, path, mode):
    every = f"      every: {PERIODIC_EVERY}\n" if mode == "periodic" else ""
    return (f"  - name: {name}\n"
            f"    probe:\n"
            f"      path: {path}\n"
            f"      mode: {mode}\n"
            f"{every}"
            f"      checks:\n"
            f"        - name: status\n"
            f"          http: {{ url: /status.json, timeout: 1s }}\n"
            f"          expect:\n"
            f"            status: 200-299\n"
            f"            json: {{ pointer: /value, equals: 5 }}\n")


LATENCY_DUTY = ("  - name: latency\n"
                "    latency:\n"
                "      http: { url: /, timeout: 2s }\n"
                "      every: 5s\n")


def sidecar_config(port, app_url, duties):
    return (f"listen: 127.0.0.1:{port}\n"
            f"app: {app_url}\n"
            f"duties:\n" + "".join(duties))


class peer:
    """One program under load: its command, its base URL and the PIDs whose cost it carries."""

    def __init__(self, ctx, name, argv, port, ready_path, expect=None):
        self.ctx = ctx
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.proc = ctx.procs.start(name, argv)
        wait_for_response(self.url + ready_path, self.proc, name, expect)

    def pids(self):
        return descendants(self.proc.pid)

    def stop(self):
        self.ctx.procs.stop(self.proc)


def start_sidecar(ctx, name, duties):
    port = free_port()
    config = ctx.write(name + ".yaml", sidecar_config(port, ctx.app.url, duties))
    first_path = re.search(r"path: (\S+)", "".join(duties))
    ready_path = first_path.group(1) if first_path else "/live"
    return peer(ctx, name, [ctx.sidecar, "--config", config], port, ready_path)


def python_argv(port, app_url):
    return [PYTHON, os.path.join(ROOT, "bench", "peers", "python_sidecar.py"),
            "--listen", f"127.0.0.1:{port}", "--app", app_url]


def start_python(ctx):
    port = free_port()
    return peer(ctx, "python", python_argv(port, ctx.app.url), port, "/ready")


def blackbox_argv(port):
    return [BLACKBOX, "--config.file=" + os.path.join(ROOT, "bench", "peers", "blackbox.yml"),
            f"--web.listen-address=127.0.0.1:{port}"]


def blackbox_target(module, target):
    return "/probe?" + urllib.parse.urlencode({"module": module, "target": target})


def start_blackbox(ctx):
    port = free_port()
    path = blackbox_target("ready", ctx.app.url + "/status.json")
    return peer(ctx, "blackbox", blackbox_argv(port), port, path, expect="probe_success 1")


# ---------------------------------------------------------------------------
# Load


def run_wrk(ctx, url, duration, script=None):
    argv = [WRK, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency"]
    if script:
        argv += ["-s", script]
    return parse_wrk(ctx.procs.run(argv + [url], timeout=duration + 60))


def load(ctx, url, pids, script=None, verify=None):
    """Run wrk `runs` times against `url`; return the spread of each measure.

    CPU is read from /proc before and after each run for the server's `pids`
    and for the main app, and divided by the requests wrk completed.
    `verify`, when given, is called after the runs and returns a problem or None.
    """
    config = ctx.config
    idle_rss, idle_anon = memory_kib(pids)
    if config.warmup:
        run_wrk(ctx, url, config.warmup, script)

    samples = {"rps": [], "p50_ms": [], "p99_ms": [], "cpu_per_1000": [], "app_cpu_per_1000": [],
               "app_requests_per_request": [], "app_connections_per_1000": []}
    bad_responses = 0
    for _ in range(config.runs):
        cpu_before, app_before = cpu_seconds(pids), cpu_seconds(ctx.app.pids())
        accepts_before, requests_before = ctx.app.counters()
        result = run_wrk(ctx, url, config.duration, script)
        cpu_after, app_after = cpu_seconds(pids), cpu_seconds(ctx.app.pids())
        accepts_after, requests_after = ctx.app.counters()
        # The second stub_status request and its connection are not the peer's.
        app_requests = requests_after - requests_before - 1
        app_connections = accepts_after - accepts_before - 1

        per_thousand = 1000 / max(result["requests"], 1)
        samples["rps"].append(result["rps"])
        samples["p50_ms"].append(result["p50_ms"])
        samples["p99_ms"].append(result["p99_ms"])
        samples["cpu_per_1000"].append((cpu_after - cpu_before) * per_thousand)
        samples["app_cpu_per_1000"].append((app_after - app_before) * per_thousand)
        samples["app_requests_per_request"].append(app_requests / max(result["requests"], 1))
        samples["app_connections_per_1000"].append(app_connections * per_thousand)
        bad_responses += result["non_2xx"] + result["socket_errors"]

    after_rss, after_anon = memory_kib(pids)
    summary = {name: spread(values) for name, values in samples.items()}
    summary.update(idle_rss_kib=idle_rss, idle_anon_kib=idle_anon, after_rss_kib=after_rss,
                   after_anon_kib=after_anon, bad_responses=bad_responses)
    summary["problem"] = verify() if verify else None
    if bad_responses:
        summary["problem"] = f"{bad_responses} responses were not 2xx, or requests failed"
    return summary


def app_share(label, summary):
    """App requests per request as text; "-" for nginx, which is the app."""
    return "-" if label == "nginx" else number(median(summary, "app_requests_per_request"), 2)


def median(summary, key):
    return summary[key]["median"] if summary.get(key) else None


def divide(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------------------
# Section: probe path


def run_probe_section(ctx):
    app = ctx.app
    measured = {}  # label -> load summary
    order = []

    def measure(label, start, path, verify=None, pids=None):
        server = start()
        try:
            good_response(server.url + path)
            measured[label] = load(ctx, server.url + path, pids() if pids else server.pids(),
                                   verify=verify(server) if verify else None)
            order.append(label)
        finally:
            if server is not app:
                server.stop()

    measure("sidecar on_request", lambda: start_sidecar(ctx, "sidecar-on-request",
                                                        [probe_duty("ready", "/ready", "on_request")]),
            "/ready")
    measure("sidecar periodic", lambda: start_sidecar(ctx, "sidecar-periodic",
                                                      [probe_duty("ready", "/ready", "periodic")]),
            "/ready")
    measure("python", lambda: start_python(ctx), "/ready")

    blackbox_path = blackbox_target("ready", app.url + "/status.json")

    def blackbox_verify(server):
        def verify():
            if good_response(server.url + blackbox_path, "probe_success 1"):
                return None
            return "the last probe did not report probe_success 1"
        return verify

    measure("blackbox", lambda: start_blackbox(ctx), blackbox_path, verify=blackbox_verify)
    measure("nginx", lambda: app, "/status.json", pids=app.pids)

    return render_probe_section(measured, order)


def render_probe_section(measured, order):
    rows = []
    for label in order:
        m = measured[label]
        rows.append([
            label, ranged(m["rps"]), ranged(m["p50_ms"], 2), ranged(m["p99_ms"], 2),
            ranged(m["cpu_per_1000"], 3), app_share(label, m),
            number(mib(m["idle_rss_kib"]), 1), number(mib(m["idle_anon_kib"]), 1),
            number(mib(m["after_rss_kib"]), 1), m["problem"] or "ok",
        ])
    text = table(["peer", "requests/s", "p50 ms", "p99 ms", "CPU s / 1,000 probes",
                  "app requests / probe", "idle RSS MiB", "idle anon MiB", "RSS after MiB",
                  "responses"], rows)

    ours = measured["sidecar on_request"]
    ratios, ratio_rows = [], []
    for label in ("python", "blackbox", "nginx"):
        m = measured[label]
        values = {
            "requests/s": divide(median(ours, "rps"), median(m, "rps")),
            "p99": divide(median(m, "p99_ms"), median(ours, "p99_ms")),
            "CPU / probe": divide(median(m, "cpu_per_1000"), median(ours, "cpu_per_1000")),
            "idle RSS": divide(m["idle_rss_kib"], ours["idle_rss_kib"]),
        }
        ratio_rows.append([label] + [ratio_text(v) for v in values.values()])
        ratios += [{"metric": metric, "peer": label, "value": v} for metric, v in values.items()]
    text += ("\n\nRatios against `sidecar on_request`, each written so that above 1× means the "
             "sidecar does better: its requests/s over the peer's, and the peer's p99, CPU and "
             "RSS over the sidecar's.\n\n")
    text += table(["peer", "requests/s", "p99", "CPU / probe", "idle RSS"], ratio_rows)

    periodic, python, blackbox, nginx = (measured[k] for k in
                                         ("sidecar periodic", "python", "blackbox", "nginx"))
    rps = lambda m: median(m, "rps")
    p99 = lambda m: median(m, "p99_ms")
    targets = [
        target_row("on_request requests/s ≥ 30× python", ratio_text(divide(rps(ours), rps(python))),
                   rps(ours) >= 30 * rps(python)),
        target_row("on_request requests/s ≥ 10× blackbox",
                   ratio_text(divide(rps(ours), rps(blackbox))), rps(ours) >= 10 * rps(blackbox)),
        target_row("on_request p99 below python's and blackbox's",
                   f"{number(p99(ours), 2)} ms against {number(p99(python), 2)} and "
                   f"{number(p99(blackbox), 2)} ms", p99(ours) < min(p99(python), p99(blackbox))),
        target_row("periodic requests/s ≥ ½ nginx", ratio_text(divide(rps(periodic), rps(nginx))),
                   rps(periodic) >= 0.5 * rps(nginx)),
        target_row("idle RSS ≤ 4 MiB", f"{number(mib(ours['idle_rss_kib']), 1)} MiB",
                   ours["idle_rss_kib"] <= 4096),
    ]
    return section_result("Probe path", text, ratios, targets, {"measured": measured})


# ---------------------------------------------------------------------------
# Section: metrics path


def series_count(exposition):
    return sum(1 for line in exposition.splitlines() if line and not line.startswith("#"))


def run_metrics_section(ctx):
    app = ctx.app
    measured, sizes, order = {}, {}, []

    def measure(label, server, path, pids=None):
        try:
            status, body = http_get(server.url + path)
            if status != 200:
                raise RuntimeError(f"{label}: {path} returned status {status}, expected 200")
            sizes[label] = (len(body.encode()), series_count(body))
            measured[label] = load(ctx, server.url + path, pids() if pids else server.pids())
            order.append(label)
            return body
        finally:
            if server is not app:
                server.stop()

    ours = start_sidecar(ctx, "sidecar-metrics",
                         [probe_duty("ready", "/ready", "on_request"), LATENCY_DUTY])
    body = measure("sidecar", ours, "/metrics")
    measure("python", start_python(ctx), "/metrics")
    measure("blackbox", start_blackbox(ctx), blackbox_target("latency", app.url + "/"))
    app.put("metrics.txt", body)
    measure("nginx", app, "/metrics.txt", pids=app.pids)

    rows = []
    for label in order:
        m = measured[label]
        size, series = sizes[label]
        rows.append([label, ranged(m["rps"]), ranged(m["p50_ms"], 2), ranged(m["p99_ms"], 2),
                     ranged(m["cpu_per_1000"], 3), app_share(label, m),
                     f"{size:,}", f"{series:,}", m["problem"] or "ok"])
    text = ("What each scrape does:\n\n"
            "- sidecar `/metrics`: its latency duty times `GET /` of the app, once for the "
            "scrapes that overlap, and the registry is rendered;\n"
            "- python `/metrics`: times `GET /` and renders prometheus_client's default registry;\n"
            "- blackbox `/probe?module=latency`: times `GET /`;\n"
            "- nginx: serves a static copy of the sidecar's exposition.\n\n")
    text += table(["peer", "scrapes/s", "p50 ms", "p99 ms", "CPU s / 1,000 scrapes",
                   "app requests / scrape", "bytes", "series", "responses"], rows)

    ratios = []
    for label in ("python", "blackbox"):
        ratios.append({"metric": "scrapes/s", "peer": label,
                       "value": divide(median(measured["sidecar"], "rps"), median(measured[label], "rps"))})
    return section_result("Metrics path", text, ratios, [], {"measured": measured, "sizes": sizes})


# ---------------------------------------------------------------------------
# Section: start-up


def time_first_response(ctx, argv, url, expect=None):
    """Start `argv` and return the milliseconds to its first good response from `url`."""
    helper = [ctx.first_response, "--timeout-ms", "10000", "--log", ctx.path("first-response.log")]
    if expect:
        helper += ["--expect", expect]
    return float(ctx.procs.run(helper + [url, "--"] + argv, timeout=30).strip())


def sidecar_start_command(ctx, name, duties):
    port = free_port()
    config = ctx.write(name + ".yaml", sidecar_config(port, ctx.app.url, duties))
    return [ctx.sidecar, "--config", config], f"http://127.0.0.1:{port}"


def run_startup_section(ctx):
    app = ctx.app

    def on_request():
        argv, url = sidecar_start_command(ctx, "start-on-request", [probe_duty("ready", "/ready", "on_request")])
        return argv, url + "/ready", None

    def periodic():
        argv, url = sidecar_start_command(ctx, "start-periodic", [probe_duty("ready", "/ready", "periodic")])
        return argv, url + "/ready", None

    def python():
        port = free_port()
        return python_argv(port, app.url), f"http://127.0.0.1:{port}/ready", None

    def blackbox():
        port = free_port()
        url = f"http://127.0.0.1:{port}" + blackbox_target("ready", app.url + "/status.json")
        return blackbox_argv(port), url, "probe_success 1"

    def nginx():
        port = free_port()
        prefix = ctx.path("start-nginx")
        os.makedirs(os.path.join(prefix, "html"), exist_ok=True)
        os.makedirs(os.path.join(prefix, "temp"), exist_ok=True)
        with open(os.path.join(prefix, "html", "status.json"), "w") as f:
            f.write(STATUS_JSON)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONFIG.format(prefix=prefix, port=port))
        return [NGINX, "-p", prefix + "/", "-c", conf], f"http://127.0.0.1:{port}/status.json", '"value"'

    commands = [("sidecar on_request", on_request), ("sidecar periodic", periodic),
                ("python", python), ("blackbox", blackbox), ("nginx", nginx)]
    measured = {}
    for label, command in commands:
        times = []
        for _ in range(ctx.config.startups):
            argv, url, expect = command()
            times.append(time_first_response(ctx, argv, url, expect))
        measured[label] = spread(times)

    ours = measured["sidecar on_request"]["median"]
    rows = [[label, ranged(m, 2), ratio_text(divide(m["median"], ours))] for label, m in measured.items()]
    text = (f"Milliseconds from fork and exec to the first good response, {ctx.config.startups} starts "
            "each, measured by `bench/tools/first_response` (a new connection and `GET` every "
            "100 µs). A good response is status 200 from the probe path, with `probe_success 1` "
            "in blackbox's body. The sidecar's first response includes its first check of the "
            "app, which in periodic mode runs when the duty starts.\n\n")
    text += table(["peer", "ms to first response", "peer ÷ sidecar on_request"], rows)
    ratios = [{"metric": "start-up", "peer": label, "value": divide(measured[label]["median"], ours)}
              for label in ("python", "blackbox", "nginx")]
    targets = [target_row("start to first response ≤ 5 ms", f"{number(ours, 2)} ms", ours <= 5)]
    return section_result("Start-up", text, ratios, targets, {"measured": measured})


# ---------------------------------------------------------------------------
# Section: scale


def rotation_script(ctx, name, paths):
    """Write a wrk script that sends each request to the next path of `paths`.

    Each wrk thread starts at its own offset into the list, spaced evenly, so
    that the threads do not ask for the same path at the same moment and share
    its evaluation.
    """
    quoted = ", ".join(json.dumps(p) for p in paths)
    return ctx.write(name + ".lua", (
        f"local paths = {{{quoted}}}\n"
        f"local threads = {WRK_THREADS}\n"
        "local requests = {}\n"
        "local started = 0\n"
        "function setup(thread)\n"
        "  thread:set('offset', math.floor(started * #paths / threads))\n"
        "  started = started + 1\n"
        "end\n"
        "function init(args)\n"
        "  for i, path in ipairs(paths) do requests[i] = wrk.format('GET', path) end\n"
        "  next_index = offset\n"
        "end\n"
        "function request()\n"
        "  next_index = next_index % #requests + 1\n"
        "  return requests[next_index]\n"
        "end\n"))


def scrape_ms(url, count=10):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status, body = http_get(url, timeout=10)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{url}: status {status}, expected 200")
    return statistics.median(times), len(body.encode()), series_count(body)


def run_scale_section(ctx):
    results = {}
    for mode in ("on_request", "periodic"):
        for size in ctx.config.scale_sizes:
            paths = [f"/ready-{i}" for i in range(size)]
            duties = [probe_duty(f"ready-{i}", path, mode) for i, path in enumerate(paths)]
            name = f"scale-{mode}-{size}"
            server = start_sidecar(ctx, name, duties)
            try:
                # Evaluate each duty once, so that every duty has stored its first result.
                for path in paths:
                    wait_for_response(server.url + path, server.proc, name)
                time.sleep(0.5)
                pids = server.pids()
                scrape = scrape_ms(server.url + "/metrics")
                summary = load(ctx, server.url + paths[0], pids, script=rotation_script(ctx, name, paths))
                summary["scrape_ms"], summary["metrics_bytes"], summary["series"] = scrape
            finally:
                server.stop()
            if mode == "on_request":
                argv, url = sidecar_start_command(ctx, name + "-start", duties)
                summary["start_ms"] = spread([time_first_response(ctx, argv, url + paths[-1])
                                              for _ in range(3)])
            results[f"{mode} {size}"] = summary
    return render_scale_section(ctx, results)


def per_duty_kib(results, mode, size, key):
    """(memory(N) - memory(1)) / (N - 1) in KiB, for `key` of the load summary."""
    if size == 1:
        return None
    return (results[f"{mode} {size}"][key] - results[f"{mode} 1"][key]) / (size - 1)


def render_scale_section(ctx, results):
    sizes = ctx.config.scale_sizes
    text = ("One sidecar with N probe duties, each on its own path (`/ready-0` to `/ready-N-1`) "
            "with one HTTP check of the app. wrk sends each request to the next path in turn, "
            "so with many duties concurrent requests rarely share an evaluation.\n\n"
            "- Idle memory is read after each duty has responded once. Memory after load is "
            "read when each duty's history of results is full.\n"
            "- Per duty = (RSS(N) - RSS(1)) / (N - 1). The anon column does the same for "
            "RssAnon, the private heap and stacks.\n"
            "- Start-up is fork and exec to the first 200 from the last duty's path, 3 starts.\n\n")
    rows, targets = [], []
    for mode in ("on_request", "periodic"):
        for size in sizes:
            m = results[f"{mode} {size}"]
            rows.append([
                mode, f"{size:,}", ranged(m["rps"]), ranged(m["p99_ms"], 2), ranged(m["cpu_per_1000"], 3),
                number(median(m, "app_requests_per_request"), 2),
                number(median(m, "app_connections_per_1000"), 1),
                number(mib(m["idle_rss_kib"]), 1), number(mib(m["after_rss_kib"]), 1),
                number(per_duty_kib(results, mode, size, "idle_rss_kib"), 1),
                number(per_duty_kib(results, mode, size, "after_rss_kib"), 1),
                number(per_duty_kib(results, mode, size, "after_anon_kib"), 1),
                f"{m['series']:,}", number(m["scrape_ms"], 2),
                ranged(m["start_ms"], 1) if "start_ms" in m else "-", m["problem"] or "ok"])

        largest, base = results[f"{mode} {sizes[-1]}"], results[f"{mode} 1"]
        per_duty = per_duty_kib(results, mode, sizes[-1], "after_rss_kib")
        targets.append(target_row(f"{mode}, {sizes[-1]:,} duties: memory per duty < 16 KiB",
                                  f"{number(per_duty, 1)} KiB after load", per_duty < 16))
        throughput_kept = divide(median(largest, "rps"), median(base, "rps"))
        targets.append(target_row(f"{mode}, {sizes[-1]:,} duties: requests/s ≥ ½ of 1 duty",
                                  f"{number(throughput_kept, 2)} of 1 duty",
                                  throughput_kept is not None and throughput_kept >= 0.5))
    text += table(["mode", "duties", "requests/s", "p99 ms", "CPU s / 1,000 probes",
                   "app requests / probe", "app connections / 1,000 probes", "idle RSS MiB",
                   "RSS after MiB", "KiB / duty idle", "KiB / duty after", "anon KiB / duty after",
                   "/metrics series", "/metrics ms", "start ms", "responses"], rows)
    return section_result("Scale", text, [], targets, {"results": results})


# ---------------------------------------------------------------------------
# Section: micro-benchmarks


MICRO_PROGRAMS = [
    ("bench_json_check", "JSON pointer check, `sidecar::evaluate` (json_check.hpp)"),
    ("bench_metrics_render", "text exposition, `sidecar::metrics::render` (metrics.hpp)"),
    ("bench_regex", "body match over 1 MiB, `sidecar::regex::search` (regex.hpp)"),
    ("bench_http_parse", "Beast `request_parser` on one request"),
]


def run_micro_section(ctx):
    rows, raw = [], {}
    for program, unit in MICRO_PROGRAMS:
        out = ctx.path(program + ".json")
        ctx.procs.run([os.path.join(ctx.config.build_dir, "bin", program),
                       f"--benchmark_repetitions={ctx.config.runs}",
                       f"--benchmark_min_time={ctx.config.bench_min_time}",
                       f"--benchmark_out={out}", "--benchmark_out_format=json"], timeout=600)
        with open(out) as f:
            report = json.load(f)
        by_name = {}
        for b in report["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            if b.get("error_occurred"):
                raise RuntimeError(f"{program}: {b['name']}: {b.get('error_message')}")
            scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b["time_unit"]]
            by_name.setdefault(b["run_name"], []).append(
                (b["cpu_time"] * scale, b.get("bytes_per_second"), b.get("series")))
        for name, samples in by_name.items():
            times = spread([s[0] for s in samples])
            throughput = statistics.median([s[1] for s in samples]) / 2**20 if samples[0][1] else None
            if samples[0][2]:
                note = f"{times['median'] * 1000 / samples[0][2]:,.0f} ns per series"
            elif program == "bench_http_parse":
                note = f"{1e6 / times['median']:,.0f} requests/s on one core"
            else:
                note = f"{1e6 / throughput:,.0f} µs per MiB"
            rows.append([unit, f"`{name}`", ranged(times, 3 if times["median"] < 10 else None),
                         number(throughput, 0), note])
            raw[name] = {"us": times, "mib_per_s": throughput}
    text = (f"Google Benchmark programs in `bench/`, {ctx.config.runs} repetitions each, "
            f"`--benchmark_min_time={ctx.config.bench_min_time}`. Time is CPU time per "
            "iteration, which other work on the machine disturbs less than wall-clock time, "
            "and MiB/s is Google Benchmark's rate from the same CPU time.\n\n")
    text += table(["unit", "benchmark", "CPU µs per iteration", "MiB/s", "cost"], rows)
    return section_result("Micro-benchmarks", text, [], [], raw)


# ---------------------------------------------------------------------------
# The registry of sections, in the order they run and appear.

SECTIONS = {
    "probe": run_probe_section,
    "metrics": run_metrics_section,
    "startup": run_startup_section,
    "scale": run_scale_section,
    "micro": run_micro_section,
}
# Sections that need no main app.
STANDALONE = {"micro"}


# ---------------------------------------------------------------------------
# Machine, versions, report


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_kib = int(f.readline().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory_gib": round(memory_kib / 2**20, 1)}


VERSIONED_PACKAGES = ["nginx-light", "prometheus-blackbox-exporter", "python3", "python3-pyramid",
                      "python3-waitress", "python3-prometheus-client", "wrk", "g++", "libboost1.81-dev",
                      "libsimdjson-dev", "prometheus-cpp-dev", "libre2-dev", "libyaml-cpp-dev",
                      "libbenchmark-dev", "gnuplot-nox"]


def versions(ctx):
    found = {}
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + VERSIONED_PACKAGES,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        name, version = line.split(" ", 1)
        found[name] = version
    sidecar = subprocess.run([ctx.sidecar, "--version"], capture_output=True, text=True).stdout.strip()
    revision = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()
    found["sidecar"] = f"{sidecar} ({revision or 'not a git checkout'})"
    return found


def load_results():
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            return json.load(f)
    return {"runs": {}, "sections": {}}


def render_results(results):
    out = []
    for run_id, run in sorted(results["runs"].items()):
        used = [name for name, s in results["sections"].items() if s["run"] == run_id]
        if not used:
            continue
        m = run["machine"]
        out.append(f"### Run {run_id}\n")
        out.append(f"Sections: {', '.join(used)}. Mode: {'--quick' if run['quick'] else 'full'}, "
                   f"{run['runs']} runs of {run['duration']} s each, wrk -t{WRK_THREADS} "
                   f"-c{WRK_CONNECTIONS}. Machine: {m['cpu']}, {m['cores']} cores, "
                   f"{m['memory_gib']} GiB, Linux {m['kernel']}. Load average (1 min) "
                   f"{run['load_before']:.2f} before and {run['load_after']:.2f} after.\n")
        out.append(table(["program", "version"], sorted(run["versions"].items())) + "\n")

    out.append("### Targets\n")
    rows = []
    for name in SECTIONS:
        for t in results["sections"].get(name, {}).get("targets", []):
            rows.append([t["bar"], t["measured"], "met" if t["met"] else "**missed**"])
    out.append(table(["target", "measured", "result"], rows) + "\n")
    out.append("The findings above say why each missed target is missed.\n")

    out.append("### Ratios\n")
    out.append("![Ratios of each peer to the sidecar](benchmarks-ratios.png)\n")
    out.append("Each bar is how many times better the sidecar does than the peer (log scale): "
               "throughput as the sidecar's over the peer's, latency, CPU, memory and start-up "
               "time as the peer's over the sidecar's. Below 1 the peer does better.\n")

    for name in SECTIONS:
        section = results["sections"].get(name)
        if section:
            out.append(f"### {section['title']}\n")
            if "load" in section:
                out.append(f"Run {section['run']}, load average (1 min) {section['load'][0]:.2f} "
                           f"before and {section['load'][1]:.2f} after this section.\n")
            out.append(section["markdown"] + "\n")

    out.append("### Commands\n")
    for name in SECTIONS:
        section = results["sections"].get(name)
        if section:
            out.append(f"<details><summary>{section['title']}: every command run</summary>\n")
            out.append("```\n" + "\n".join(section["commands"]) + "\n```\n</details>\n")
    return "\n".join(out)


def write_document(results):
    with open(DOC) as f:
        doc = f.read()
    begin, end = doc.find(BEGIN_MARK), doc.find(END_MARK)
    if begin < 0 or end < begin:
        raise RuntimeError(f"{DOC}: missing the markers {BEGIN_MARK} and {END_MARK}, "
                           "expected both, in this order")
    generated = "\n\n" + render_results(results) + "\n"
    with open(DOC, "w") as f:
        f.write(doc[:begin + len(BEGIN_MARK)] + generated + doc[end:])


CHART_SCRIPT = """\
set terminal png size 1100,560 font ",11"
set output '{output}'
set title 'sidecar compared with each peer (above 1: sidecar better)'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [0.05:*]
set grid ytics
set ylabel 'times better than the peer'
set xtics nomirror
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5
plot '{data}' using 2:xtic(1) title 'python (Pyramid, waitress)', \\
     '' using 3 title 'blackbox\\_exporter', \\
     '' using 4 title 'nginx (static file)'
"""


def write_chart(ctx, results):
    metrics, values = [], {}
    for name in SECTIONS:
        for r in results["sections"].get(name, {}).get("ratios", []):
            if r["metric"] not in metrics:
                metrics.append(r["metric"])
            values[(r["metric"], r["peer"])] = r["value"]
    if not metrics:
        return
    lines = []
    for metric in metrics:
        cells = [values.get((metric, peer)) for peer in ("python", "blackbox", "nginx")]
        lines.append(json.dumps(metric) + " " + " ".join("NaN" if v is None else f"{v:.4g}" for v in cells))
    data = ctx.write("ratios.dat", "\n".join(lines) + "\n")
    script = ctx.write("ratios.gnuplot", CHART_SCRIPT.format(output=CHART, data=data))
    ctx.procs.run([GNUPLOT, script], timeout=60)


# ---------------------------------------------------------------------------
# Main


def build(config):
    jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))
    subprocess.run(["cmake", "-S", ROOT, "-B", config.build_dir, "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", config.build_dir, "-j", jobs, "bench_programs"], check=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/compare",
        description="Benchmark the sidecar against Python, blackbox_exporter and nginx on this machine.")
    parser.add_argument("--quick", action="store_true",
                        help="2 s loads, fewer start-ups and short micro-benchmarks (about 2 minutes)")
    parser.add_argument("--only", default="",
                        help="comma-separated sections to run: " + ", ".join(SECTIONS))
    parser.add_argument("--runs", type=int, help="repetitions of each load (default 3, at least 3)")
    parser.add_argument("--duration", type=int, help="seconds of each wrk run (default 10, --quick 2)")
    parser.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")),
                        help="CMake build directory (default build/, or $BUILD_DIR)")
    parser.add_argument("--skip-build", action="store_true", help="use the programs already built")
    parser.add_argument("--sidecar", help="the sidecar binary to measure (default BUILD_DIR/bin/sidecar), "
                        "for comparing two builds")
    parser.add_argument("--print-only", action="store_true",
                        help="print the tables and write nothing under docs/")
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary directory with configs and logs")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 3:
        parser.error(f"--runs {args.runs}: too few, expected at least 3 for a median and spread")
    return args


def selected_sections(only):
    if not only:
        return list(SECTIONS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"bench/compare: unknown section {', '.join(unknown)}, "
                         f"expected one of {', '.join(SECTIONS)}")
    return [n for n in SECTIONS if n in names]


def main(argv):
    args = parse_args(argv)
    names = selected_sections(args.only)
    config = make_settings(args)
    if not args.skip_build:
        build(config)

    # SIGTERM unwinds like Ctrl-C, so that the finally below stops every program.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    directory = tempfile.mkdtemp(prefix="sidecar-bench-")
    os.chmod(directory, 0o755)  # nginx's workers run as another user and must read the files
    ctx = bench_context(config, directory)
    if args.sidecar:
        ctx.sidecar = os.path.abspath(args.sidecar)
    results = load_results()
    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    run = {"quick": config.quick, "runs": config.runs, "duration": config.duration,
           "machine": machine_info(), "versions": versions(ctx), "load_before": os.getloadavg()[0]}
    started = time.monotonic()
    try:
        for name in names:
            print(f"bench/compare: {name} ...", flush=True)
            # The commands of a section include the main app's when the section starts it.
            first_command = len(ctx.procs.commands)
            if name not in STANDALONE and ctx.app is None:
                ctx.app = nginx_app(ctx)
            load_before = os.getloadavg()[0]
            section = SECTIONS[name](ctx)
            results["sections"][name] = dict(dataclasses.asdict(section), run=run_id,
                                             commands=ctx.procs.commands[first_command:],
                                             load=[load_before, os.getloadavg()[0]])
            print(section.markdown + "\n", flush=True)
    finally:
        ctx.procs.stop_all()
        if args.keep_temp:
            print(f"bench/compare: kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    run["load_after"] = os.getloadavg()[0]
    if args.print_only:
        return 0
    results["runs"][run_id] = run
    # Drop runs that no section refers to any more.
    used = {s["run"] for s in results["sections"].values()}
    results["runs"] = {k: v for k, v in results["runs"].items() if k in used}
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    chart_ctx = bench_context(config, tempfile.mkdtemp(prefix="sidecar-bench-chart-"))
    try:
        write_chart(chart_ctx, results)
    finally:
        shutil.rmtree(chart_ctx.directory, ignore_errors=True)
    write_document(results)
    print(f"bench/compare: wrote {DOC}, {CHART} and {RESULTS} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
