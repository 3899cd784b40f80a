"""Which pooling of YAMNet's last layer should a learnt sound's head see?

The shipped embedding is the mean of the last layer's (1024, 3 time x 2 band) cells: a
short sound (a knock, keys dropped) fills one of the three time cells at most, and the
mean over 0.96 s dilutes it in the room's noise. This builds two variants of the shipped
model file whose ``embedding`` output is instead
- ``max``: the largest of the three time cells (each the mean of its two bands), 1024-d;
- ``meanmax``: the mean and that maximum side by side, 2048-d;
makes each its own generic negatives (benchmarks/make_generic_negatives.py), and runs the
learning method's tuning comparison (benchmarks/bench_learn_sound.py --tune --place-bed:
the five tuning classes, never the reported ones) on each, and on the shipped model and
its generic negatives (``mean``) in the same run.

Run (reads ../shared; about 10 min of CPU a variant on one core):
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.learn_pooling_choice --out runs/pool
Prints JSON: each variant's mean recall in noise and false events per hour, per class.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.machine import emit, require_shared_data
from soundwatch.model import shipped_model_path

VARIANTS = ("mean", "max", "meanmax")  # "mean": the shipped model itself


def pooled_variant(source: Path, target: Path, mode: str) -> None:
    """Write ``source`` with its ``embedding`` output re-pooled (see the module text)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    mean_node = producer["embedding"]
    band_mean = mean_node.input[0]  # (batch, 1024, 3 time cells)
    mean_node.output[0] = "embedding_mean"
    for node in graph.node:  # the AudioSet head reads the mean, as before
        for i, name in enumerate(node.input):
            if name == "embedding" and node is not mean_node:
                node.input[i] = "embedding_mean"
    graph.node.append(helper.make_node("ReduceMax", [band_mean], ["embedding_time_max"],
                                       axes=[2], keepdims=0))
    if mode == "max":
        graph.node.append(helper.make_node("Identity", ["embedding_time_max"], ["embedding"]))
        dim = 1024
    else:
        graph.node.append(helper.make_node("Concat", ["embedding_mean", "embedding_time_max"],
                                           ["embedding"], axis=1))
        dim = 2048
    for output in graph.output:
        if output.name == "embedding":
            output.type.tensor_type.shape.dim[1].dim_value = dim
    for prop in model.metadata_props:
        if prop.key == "embedding_version":  # learnt sounds must not mix the two
            prop.value = f"{prop.value}-{mode}"
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the variants")
    args = parser.parse_args()
    require_shared_data()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for mode in VARIANTS:
        env = dict(os.environ)
        generic, key = [], "shipped"
        if mode != "mean":
            model = args.out / f"{mode}.onnx"
            negatives = args.out / f"{mode}.npz"
            pooled_variant(shipped_model_path(), model, mode)
            env["SOUNDWATCH_MODEL"] = str(model)
            subprocess.run([sys.executable, "-m", "benchmarks.make_generic_negatives",
                            "--out", str(negatives)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            generic, key = ["--generic", str(negatives)], f"shipped @ {negatives.name}"
        tuned = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_learn_sound", "--tune", "--place-bed",
             "--variants", "shipped", *generic],
            env=env, check=True, capture_output=True, text=True)
        run = json.loads(tuned.stdout)["results"][key]
        results[mode] = {
            "mean_recall": run["mean_recall"],
            "mean_false_events_per_hour": run["mean_false_events_per_hour"],
            "recall_by_class": {label: {k: v for k, v in c.items() if k.startswith("recall")}
                                for label, c in run["classes"].items()}}
    emit("learn_pooling_choice", "learnt sounds' recall in noise and false events per hour "
         "on the tuning classes, with the head on other poolings of YAMNet's last layer",
         results)


if __name__ == "__main__":
    main()
