"""Read the API server's own request counters (``apiserver_request_total``) for benchmarks."""

from __future__ import annotations

import ssl
import urllib.request
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY", "DELETECOLLECTION"}


def scrape(server: str, pki: Path) -> Counter:
    """Requests so far by (verb, resource, subresource)."""
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with urllib.request.urlopen(f"{server}/metrics", context=ctx, timeout=10) as resp:
        text = resp.read().decode()
    counts: Counter = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            counts[(labels.get("verb", ""), labels.get("resource", ""),
                    labels.get("subresource", ""))] += sample.value
    return counts


def writes(before: Counter, after: Counter) -> dict[str, int]:
    """Write requests made between two scrapes, keyed ``VERB resource[/subresource]``."""
    out: dict[str, int] = {}
    for key, value in after.items():
        verb, resource, sub = key
        delta = int(value - before.get(key, 0))
        if verb in WRITE_VERBS and delta > 0:
            out[f"{verb} {resource}{'/' + sub if sub else ''}"] = delta
    return dict(sorted(out.items()))
