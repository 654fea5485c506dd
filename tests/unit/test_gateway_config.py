"""The nginx gateway config (deploy/nginx/mash.conf) routes exactly as mash/topology.py does.

The file is parsed, not run (tests/integration/test_deployment.py runs it): these checks
need no nginx, so a drift between the two routing tables fails every test run.
"""

from __future__ import annotations

import re

import pytest

from mash.topology import PUBLIC_ROUTES, SERVICES, service_for_path
from tests.unit.gateway_config import CONFIG, ROOT, Directive, parse

README = ROOT / "deploy" / "README.md"

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Variables that include the query string (which can hold a child's name).
LEAKS_QUERY = re.compile(r"\$(request|request_uri|args|query_string|is_args)\b|\$arg_")
EXPECTED_PLACEHOLDERS = {
    "GATEWAY_LISTEN", "ACCESS_LOG", "WEB_ROOT", "RATE_LIMIT", "RATE_BURST",
    *(f"{name.upper()}_UPSTREAM" for name in SERVICES),
}


@pytest.fixture(scope="module")
def config() -> Directive:
    return parse(CONFIG.read_text())


@pytest.fixture(scope="module")
def server(config: Directive) -> Directive:
    return config.one("http").one("server")


def proxied_locations(server: Directive) -> dict[tuple[str, str], str]:
    """(modifier, path) -> upstream name, for every location that proxies."""
    routes: dict[tuple[str, str], str] = {}
    for location in server.all("location"):
        passes = location.all("proxy_pass")
        if not passes:
            continue
        modifier, path = location.args if len(location.args) == 2 else ("", location.args[0])
        target = passes[0].args[0]
        assert target.startswith("http://"), target
        routes[(modifier, path)] = target.removeprefix("http://")
    return routes


def nginx_choice(server: Directive, path: str) -> str | None:
    """Which upstream nginx sends ``path`` to (None: the gateway answers itself).

    nginx's rule, for a config without regex locations: an exact match wins; else the
    longest matching prefix.
    """
    assert not any(loc.args[0] in ("~", "~*") for loc in server.all("location")), \
        "regex locations: update nginx_choice to nginx's full matching rule"
    exact = {loc.args[1]: loc for loc in server.all("location") if loc.args[0] == "="}
    if path in exact:
        chosen = exact[path]
    else:
        prefixes = [loc for loc in server.all("location")
                    if loc.args[0] != "=" and not loc.args[-1].startswith("@")
                    and path.startswith(loc.args[-1])]
        chosen = max(prefixes, key=lambda loc: len(loc.args[-1]))
    passes = chosen.all("proxy_pass")
    return passes[0].args[0].removeprefix("http://") if passes else None


def test_every_public_route_of_the_topology_is_proxied_to_its_service(
    server: Directive,
) -> None:
    routes = proxied_locations(server)
    expected: dict[tuple[str, str], str] = {}
    for prefix, service in PUBLIC_ROUTES.items():
        if prefix.endswith("/"):
            expected[("^~", prefix)] = service
        else:
            expected[("=", prefix)] = service
            expected[("^~", prefix + "/")] = service
    assert routes == expected


@pytest.mark.parametrize("prefix", sorted(PUBLIC_ROUTES))
def test_nginx_and_the_in_process_gateway_send_each_path_to_the_same_place(
    server: Directive, prefix: str
) -> None:
    base = prefix.rstrip("/")
    for path in (prefix, base, f"{base}/", f"{base}/some-id", f"{base}/some-id/triage",
                 f"{base}x", f"{base}-other/thing"):
        assert nginx_choice(server, path) == service_for_path(path), path


def test_operational_and_unknown_paths_are_not_proxied(server: Directive) -> None:
    for path in ("/", "/index.html", "/healthz", "/readyz", "/metrics", "/openapi.json",
                 "/api/v1/", "/api/v1/unknown", "/docs"):
        assert nginx_choice(server, path) is None, path


def test_each_upstream_is_one_placeholder_named_after_its_service(config: Directive) -> None:
    upstreams = {u.args[0]: u for u in config.one("http").all("upstream")}
    assert set(upstreams) == set(SERVICES)
    for name, upstream in upstreams.items():
        assert [s.args for s in upstream.all("server")] == [[f"${{{name.upper()}_UPSTREAM}}"]]


def test_request_headers_are_set_once_for_every_proxied_location(server: Directive) -> None:
    headers = {d.args[0].lower(): d.args[1] for d in server.all("proxy_set_header")}
    assert headers["x-request-id"] == "$mash_request_id"
    assert headers["traceparent"] == "$http_traceparent"
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-host"] == "$host"
    # nginx drops every inherited proxy_set_header in a location that sets one of its own.
    for location in server.all("location"):
        assert not location.all("proxy_set_header"), location.args


def test_limits_answer_with_problem_documents(server: Directive) -> None:
    assert server.one("client_max_body_size").args == ["1m"]
    assert server.one("limit_req_status").args == ["429"]
    assert server.one("limit_req").args[0].startswith("zone=")
    pages = {d.args[0]: d.args[-1] for d in server.all("error_page")}
    named = {loc.args[0]: loc for loc in server.all("location") if loc.args[0].startswith("@")}
    for status in ("404", "413", "429"):
        location = named[pages[status]]
        assert location.one("default_type").args == ["application/problem+json"]
        assert location.one("return").args[0] == status
        assert f'"status":{status}' in location.one("return").args[1]


def test_access_log_is_json_and_never_records_a_query_string(config: Directive) -> None:
    http = config.one("http")
    log_format = http.one("log_format")
    assert log_format.args[:2] == ["mash_json", "escape=json"]
    fmt = "".join(log_format.args[2:])
    assert not LEAKS_QUERY.search(fmt), LEAKS_QUERY.search(fmt)
    assert '"path":"$uri"' in fmt
    assert http.one("access_log").args == ["${ACCESS_LOG}", "mash_json"]


def test_placeholders_are_the_documented_ones() -> None:
    text = CONFIG.read_text()
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert set(PLACEHOLDER.findall(directives)) == EXPECTED_PLACEHOLDERS
    readme = README.read_text()
    for name in EXPECTED_PLACEHOLDERS:
        assert name in readme, f"deploy/README.md does not explain {name}"
