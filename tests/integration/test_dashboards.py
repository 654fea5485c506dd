"""deploy/observability: the Grafana dashboard and the Prometheus rules name only metrics
(and label values) that the hub's /metrics really has, and promtool accepts the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import unavailable
from tests.integration.partners import Intake

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
RULES = OBSERVABILITY / "prometheus-rules.yaml"
# Series Prometheus makes itself for every target, not the hub.
PROMETHEUS_OWN = {"up"}
SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)(\{[^}]*\})?(?=\s*(?:\[|\)|>|<|=|$|\s|\{))")
EXACT = re.compile(r'(\w+)="([^"]*)"')


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load(RULES.read_text())
    found += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return found


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """Each series a PromQL expression reads: its metric name and exact label matches."""
    found = []
    for name, braces in SELECTOR.findall(expr):
        if name.startswith("mash_") or name in PROMETHEUS_OWN:
            found.append((name, dict(EXACT.findall(braces or ""))))
    return found


async def test_every_series_the_dashboard_and_rules_read_is_on_metrics(intake: Intake) -> None:
    posted = await intake.submit()
    assert posted.status_code == 201, posted.text
    intake.client.headers.pop("authorization", None)
    scraped = await intake.client.get("/metrics")
    assert scraped.status_code == 200
    samples = [s for family in text_string_to_metric_families(scraped.text)
               for s in family.samples]
    names = {s.name for s in samples}

    exprs = expressions()
    assert len(exprs) >= 15
    read = [pair for expr in exprs for pair in selectors(expr)]
    mentioned = {name for name, _ in read}
    # What the issue asks the dashboard and alerts to show, by the series that show it.
    assert {"mash_http_requests_total", "mash_http_request_duration_seconds_bucket",
            "mash_open_referrals", "mash_outbox_oldest_unsent_seconds", "mash_deliveries",
            "mash_overdue_decisions", "mash_dead_letters", "mash_ready", "up"} <= mentioned
    for name, labels in read:
        if name in PROMETHEUS_OWN:
            continue
        assert name in names, f"{name} is not on /metrics"
        assert any(s.name == name and labels.items() <= s.labels.items() for s in samples), \
            f"no {name} with {labels} on /metrics"


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool", "not installed (Debian's prometheus package; .ci/services)")
    assert promtool is not None
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
