"""Draw benchmarks/latency.png from benchmarks/results.json (run after `soundwatch bench`).

    python -m benchmarks.plot_results
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.machine import REPO  # noqa: E402

RESULTS = REPO / "benchmarks" / "results.json"
LATENCY_PNG = REPO / "benchmarks" / "latency.png"


def plot_latency(latency: dict) -> None:
    runs = [(key, value) for key, value in latency["results"].items()
            if isinstance(value, dict) and value.get("delays_s")]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    bins = [x / 4 for x in range(-2, 25)]
    for key, value in runs:
        ax.hist(value["delays_s"], bins=bins, histtype="step", linewidth=1.8,
                label=f"{key.replace('_', ' ')} (n={value['n']}, p50 {value['p50_s']} s, "
                      f"p95 {value['p95_s']} s)")
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("true onset -> 'event started' (s); dotted/dashed: p50/p95 targets")
    ax.set_ylabel("events")
    ax.set_title("Detection latency, shipped model, default settings", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(LATENCY_PNG)
    print(f"wrote {LATENCY_PNG}")


def main() -> None:
    results = json.loads(RESULTS.read_text())
    if "latency" in results:
        plot_latency(results["latency"])


if __name__ == "__main__":
    main()
