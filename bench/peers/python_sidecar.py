#!/usr/bin/python3
"""A readiness and metrics sidecar written the way many teams write one in Python.

Pyramid routes served by waitress with its default settings, and
prometheus_client's default registry, which also exports the process and
garbage-collector metrics that the library registers by itself:

    /ready    GET APP/status.json with a 1 s timeout; 200 while its "value" is 5,
              503 otherwise or when the request fails
    /metrics  time GET APP/ with a 2 s timeout into sidecar_latency_seconds,
              then return the registry in the text format

bench/compare runs it with Debian's python3 and packages (python3-pyramid,
python3-waitress, python3-prometheus-client):

    python_sidecar.py --listen 127.0.0.1:9091 --app http://127.0.0.1:8080
"""

import argparse
import json
import time
import urllib.error
import urllib.request

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from pyramid.config import Configurator
from pyramid.response import Response
from waitress import serve

LATENCY = Gauge("sidecar_latency_seconds", "Duration of the last timed request to the app.")


def ready(request):
    """Return 200 while the app's status document has value 5, else 503."""
    url = request.registry.settings["app"] + "/status.json"
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            value = json.load(answer).get("value")
    except (OSError, ValueError, AttributeError) as error:
        return Response(f"not ready: {url}: {error}\n", status=503, content_type="text/plain")
    if value != 5:
        return Response(f"not ready: value is {value!r}, expected 5\n", status=503,
                        content_type="text/plain")
    return Response("ready\n", content_type="text/plain")


def metrics(request):
    """Time one request to the app's front page, then return every metric."""
    url = request.registry.settings["app"] + "/"
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            answer.read()
        LATENCY.set(time.perf_counter() - started)
    except OSError:
        pass  # the gauge keeps its last value, as a failed scrape-time check would
    return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def make_app(app_url):
    with Configurator(settings={"app": app_url.rstrip("/")}) as config:
        config.add_route("ready", "/ready")
        config.add_view(ready, route_name="ready")
        config.add_route("metrics", "/metrics")
        config.add_view(metrics, route_name="metrics")
        return config.make_wsgi_app()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9091", help="HOST:PORT to serve on")
    parser.add_argument("--app", default="http://127.0.0.1:8080", help="base URL of the main app")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    serve(make_app(args.app), host=host, port=int(port))


if __name__ == "__main__":
    main()
