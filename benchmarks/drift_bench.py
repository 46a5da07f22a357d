"""Can an alarm be trusted, and its silence? The drift monitor's power, false alarms, delay and accuracy estimate.

A model trained and baselined the product's way classifies clean courier photos and seven kinds
of drifted ones through the model server's handler, and the local endpoint's Data Capture writer
records every request (``drift_world.py``). The analyzer's own reader and feature extraction turn
each captured record into a feature row once; every window below is then profiled and checked by
the analyzer's own profile and checks code, with the product's settings (thresholds, KS alpha,
accuracy floor, ignore/alert/retrain actions). A sample of windows is also run through the
analyzer's entry point (``analyzer.py`` as the Processing job runs it, on capture files) to show
the two give the same violations.

Printed, per check and drift kind:

- power: the share of windows of 25/50/100/200/500 requests that raise a counted violation;
- false alarms on clean traffic: at least 1,000 windows per size, each an independent random draw
  from the clean pool, with the Clopper-Pearson 95% upper bound;
- delay: sliding windows from the start of a drift episode (clean traffic, then the drifted kind);
  the median number of drifted requests until the first alarm;
- the accuracy drop each drift causes, and the label-free estimate's error against true accuracy.

    nice -n 10 .venv/bin/python benchmarks/drift_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import drift_world
from drift_world import CLEAN, KINDS, Scale, World, say

MONITOR = drift_world.PROJECT_ROOT / "programs" / "monitor"
if str(MONITOR) not in sys.path:
    sys.path.insert(0, str(MONITOR))

import accuracy_estimate  # noqa: E402
import checks  # noqa: E402
from capture import parse_line  # noqa: E402
from feature_statistics import DatasetProfile, features_by_name  # noqa: E402
from features import extract_row  # noqa: E402

from devtools.synthetic import SEVERITY  # noqa: E402
from include.settings import load_settings  # noqa: E402

WINDOW_SIZES = (25, 50, 100, 200, 500)
CHECKS = ("distance", "ks", "estimate", "any")
DELAY_CHECKS = ("distance", "ks", "any")
CHECK_TITLES = {
    "distance": "L-inf distance > threshold (and chance, 99%)",
    "ks": "KS test, Bonferroni",
    "estimate": "estimated accuracy < floor",
    "any": "any counted violation (the DAG's decision)",
}
ALTERNATIVE_ALPHAS = (0.05, 0.01, 0.005, 0.001)
FAMILY = 5  # features under the KS tests


@dataclass(frozen=True)
class Record:
    row: dict
    correct: bool | None
    line: tuple[str, int]


@dataclass
class Outcome:
    """One window's verdicts."""

    fired: dict[str, bool]
    features: set[str]
    min_p: float
    fired_besides_ks: bool
    estimates: dict[str, float]
    accuracy: float | None


@dataclass
class Context:
    baseline: dict
    constraints: dict
    config: checks.CheckConfig
    threshold: float
    actions: dict[str, str]
    records: dict[str, list[Record]] = field(default_factory=dict)


CONTEXT: Context | None = None


# --- records -------------------------------------------------------------------------------------


def _load_kind(task: tuple[str, Path, dict[str, str], float]) -> tuple[str, list[Record]]:
    """The analyzer's reader and feature extraction over one kind's capture files."""
    kind, folder, truths, threshold = task
    records = []
    for path in sorted(folder.rglob("*.jsonl")):
        with path.open("rb") as handle:
            offset = 0
            for line in handle:
                event = parse_line(line)
                row = extract_row(event, threshold)
                truth = truths[json.loads(line)["eventMetadata"]["inferenceId"]]
                correct = None if truth not in ("bicycle", "motorcycle") else row["predicted_class"] == truth
                records.append(Record(row, correct, (str(path), offset)))
                offset += len(line)
    return kind, records


def load_records(world: World, threshold: float, pool: multiprocessing.pool.Pool) -> dict[str, list[Record]]:
    tasks = [(kind, world.capture[kind], world.truths[kind], threshold) for kind in KINDS]
    return dict(pool.map(_load_kind, tasks))


# --- one window ----------------------------------------------------------------------------------


def _action(actions: dict[str, str], check_type: str, feature: str) -> str:
    return actions.get(f"{check_type}:{feature}", actions.get(check_type, "alert"))


def evaluate_window(records: Sequence[Record], context: Context) -> Outcome:
    """Profile and check one window with the analyzer's code and the product's settings."""
    profile = DatasetProfile()
    for record in records:
        profile.add(record.row)
    current = profile.to_json()
    notes = checks.WindowNotes(0, 0, context.threshold)
    evaluation = checks.evaluate(current, context.constraints, context.baseline, notes, context.config)
    counted = {(c["test"], c["feature"]) for c in evaluation.checks if c["violated"]
               and _action(context.actions, c["check"], c["feature"]) != "ignore"}
    violations = [v for v in evaluation.violations
                  if _action(context.actions, v["constraint_check_type"], v["feature_name"]) != "ignore"]
    fired = {
        "distance": any(test == checks.LINF_TEST for test, _ in counted),
        "ks": any(test == checks.KS_TEST for test, _ in counted),
        "estimate": any(test == checks.ESTIMATE_TEST for test, _ in counted),
        "any": bool(violations),
    }
    named = {name: features_by_name(document) for name, document in (("current", current),
                                                                     ("baseline", context.baseline))}
    estimates = {}
    for method in accuracy_estimate.METHODS:
        estimate = accuracy_estimate.estimate_accuracy(named["current"], named["baseline"], method,
                                                       evaluation.input_drift)
        if estimate is not None:
            estimates[method] = estimate.value
    labelled = [r.correct for r in records if r.correct is not None]
    other_checks = any(v["constraint_check_type"] != "baseline_drift_check" for v in violations)
    return Outcome(
        fired=fired,
        features={f"{test}:{feature}" for test, feature in counted},
        min_p=min(evaluation.p_values.values(), default=1.0),
        fired_besides_ks=fired["distance"] or fired["estimate"] or other_checks,
        estimates=estimates,
        accuracy=sum(labelled) / len(labelled) if labelled else None,
    )


# --- experiments (run in worker processes) --------------------------------------------------------


def _random_windows(task: tuple[str, int, int, int]) -> list[Outcome]:
    kind, size, count, seed = task
    assert CONTEXT is not None
    pool = CONTEXT.records[kind]
    rng = random.Random(seed)
    return [evaluate_window(rng.sample(pool, size), CONTEXT) for _ in range(count)]


def _delays(task: tuple[str, int, int, int]) -> list[int | None]:
    """Per episode: drifted requests seen until the first alarm of each check (None: not within 2 windows)."""
    kind, size, episodes, seed = task
    assert CONTEXT is not None
    rng = random.Random(seed)
    stride = max(1, size // 10)
    results = []
    for _ in range(episodes):
        clean = rng.sample(CONTEXT.records[CLEAN], size)
        drifted = rng.sample(CONTEXT.records[kind], min(2 * size, len(CONTEXT.records[kind])))
        first: dict[str, int | None] = dict.fromkeys(DELAY_CHECKS)
        for seen in range(stride, len(drifted) + 1, stride):
            window = (clean + drifted[:seen])[-size:]
            outcome = evaluate_window(window, CONTEXT)
            for name in DELAY_CHECKS:
                if first[name] is None and outcome.fired[name]:
                    first[name] = seen
            if all(value is not None for value in first.values()):
                break
        results.append(first)
    return results  # type: ignore[return-value]


def _init_worker(context: Context) -> None:
    global CONTEXT
    CONTEXT = context


# --- statistics ----------------------------------------------------------------------------------


def clopper_pearson_upper(alarms: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper bound of a binomial proportion (exact: bisection on the binomial CDF)."""
    if alarms >= trials:
        return 1.0
    target = 1 - confidence

    def cdf(p: float) -> float:
        total, term = 0.0, (1 - p) ** trials
        for k in range(alarms + 1):
            total += term
            term *= (trials - k) / (k + 1) * p / (1 - p) if p < 1 else 0.0
        return total

    low, high = alarms / trials, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) > target else (low, middle)
    return high


def _share(outcomes: list[Outcome], check: str) -> float:
    return sum(o.fired[check] for o in outcomes) / len(outcomes)


def _median_delay(delays: list[int | None], limit: int) -> str:
    found = sorted(d if d is not None else math.inf for d in delays)
    median = statistics.median(found)
    return f">{limit}" if math.isinf(median) else f"{median:.0f}"


# --- the entry point on a sample of windows -----------------------------------------------------


def _write_capture_window(records: Sequence[Record], folder: Path) -> None:
    """The window's original capture lines, one hour folder, as the Processing job receives them."""
    target = folder / "scones-drift-bench" / "AllTraffic" / "2026" / "01" / "01" / "00"
    target.mkdir(parents=True)
    with (target / "window.jsonl").open("wb") as output:
        for record in records:
            path, offset = record.line
            with open(path, "rb") as source:
                source.seek(offset)
                output.write(source.readline())


def entry_point_agreement(world: World, context: Context, seed: int, per_kind: int) -> tuple[int, int]:
    """Run ``analyzer.py`` on capture files for sample windows; count windows whose violations match."""
    rng = random.Random(seed)
    agree = total = 0
    for kind in KINDS:
        for _ in range(per_kind):
            window = rng.sample(context.records[kind], 100)
            with tempfile.TemporaryDirectory(prefix="drift-entry-") as scratch:
                folder = Path(scratch)
                _write_capture_window(window, folder / "capture")
                subprocess.run(
                    [sys.executable, str(MONITOR / "analyzer.py"), "--dataset-source", str(folder / "capture"),
                     "--output-path", str(folder / "out"),
                     "--baseline-statistics", str(world.baseline / "statistics.json"),
                     "--baseline-constraints", str(world.baseline / "constraints.json"),
                     "--confidence-threshold", str(context.threshold),
                     "--ks-alpha", str(context.config.ks_alpha),
                     "--min-estimated-accuracy", str(context.config.min_estimated_accuracy)],
                    check=True, stdout=subprocess.DEVNULL,
                    env={**os.environ, "SCONES_MESSAGE_PATH": str(folder / "message")},
                )
                found = json.loads((folder / "out" / "constraint_violations.json").read_text())["violations"]
            expected = _violation_keys_in_process(window, context)
            agree += {(v["constraint_check_type"], v["feature_name"]) for v in found} == expected
            total += 1
    return agree, total


def _violation_keys_in_process(records: Sequence[Record], context: Context) -> set[tuple[str, str]]:
    profile = DatasetProfile()
    for record in records:
        profile.add(record.row)
    evaluation = checks.evaluate(profile.to_json(), context.constraints, context.baseline,
                                 checks.WindowNotes(0, 0, context.threshold), context.config)
    return {(v["constraint_check_type"], v["feature_name"]) for v in evaluation.violations}


# --- report --------------------------------------------------------------------------------------


def _print_world(world: World, context: Context, scale: Scale) -> None:
    metrics = world.evaluation["metrics"]
    print(f"\nmodel: {scale.epochs} epochs, test accuracy {metrics['accuracy']:.3f}, ECE {metrics['ece']:.3f}; "
          f"baseline: {context.baseline['dataset']['item_count']} validation records")
    print(f"settings: confidence threshold {context.threshold}, KS alpha {context.config.ks_alpha}, "
          f"estimated-accuracy floor {context.config.min_estimated_accuracy}")
    print("\ndrift kinds (severity), requests captured, accuracy, accuracy drop vs clean:")
    clean = _accuracy(context.records[CLEAN])
    for kind in KINDS:
        records = context.records[kind]
        accuracy = _accuracy(records)
        drop = "n/a" if accuracy is None or clean is None else f"{clean - accuracy:+.3f}"
        shown = "n/a (not bicycles or motorcycles)" if accuracy is None else f"{accuracy:.3f}"
        print(f"  {kind:<15} {len(records):>6}  accuracy {shown:<8} drop {drop:<7} "
              f"{SEVERITY.get(kind, 'normal courier photos')}")


def _accuracy(records: list[Record]) -> float | None:
    labelled = [r.correct for r in records if r.correct is not None]
    return sum(labelled) / len(labelled) if labelled else None


def _print_false_alarms(clean: dict[int, list[Outcome]]) -> None:
    print("\nfalse alarms on clean traffic (share of windows; Clopper-Pearson 95% upper bound):")
    print(f"  {'window':>6} {'windows':>7}  " + "  ".join(f"{check:>22}" for check in CHECKS))
    for size, outcomes in clean.items():
        cells = []
        for check in CHECKS:
            alarms = sum(o.fired[check] for o in outcomes)
            cells.append(f"{alarms / len(outcomes):>7.2%} (<= {clopper_pearson_upper(alarms, len(outcomes)):.2%})")
        print(f"  {size:>6} {len(outcomes):>7}  " + "  ".join(f"{cell:>22}" for cell in cells))
    print("  the KS test, and any counted violation, at other family-wise levels of the KS test:")
    for size, outcomes in clean.items():
        cells = []
        for alpha in ALTERNATIVE_ALPHAS:
            ks = sum(o.min_p < alpha / FAMILY for o in outcomes)
            alarms = sum(o.min_p < alpha / FAMILY or o.fired_besides_ks for o in outcomes)
            cells.append(f"alpha {alpha}: KS {ks / len(outcomes):.2%}, any {alarms / len(outcomes):.2%} "
                         f"(<= {clopper_pearson_upper(alarms, len(outcomes)):.2%})")
        print(f"  {size:>6}  " + "  ".join(cells))


def _print_power(power: dict[tuple[str, int], list[Outcome]]) -> None:
    print("\npower: share of drifted windows that raise the check (window size 25 / 50 / 100 / 200 / 500):")
    for check in CHECKS:
        print(f"  {CHECK_TITLES[check]}")
        for kind in KINDS[1:]:
            shares = " ".join(f"{_share(power[(kind, size)], check):>5.0%}" for size in WINDOW_SIZES)
            print(f"    {kind:<15} {shares}")


def _ks_share(outcomes: list[Outcome], alpha: float) -> float:
    return sum(o.min_p < alpha / FAMILY for o in outcomes) / len(outcomes)


def _print_alpha_power(power: dict[tuple[str, int], list[Outcome]]) -> None:
    print("\npower of the KS test at other family-wise levels (window size 25 / 50 / 100 / 200 / 500):")
    for alpha in ALTERNATIVE_ALPHAS:
        print(f"  alpha {alpha}")
        for kind in KINDS[1:]:
            shares = " ".join(f"{_ks_share(power[(kind, size)], alpha):>5.0%}" for size in WINDOW_SIZES)
            print(f"    {kind:<15} {shares}")


def _print_catchers(power: dict[tuple[str, int], list[Outcome]], size: int) -> None:
    print(f"\nwhich test on which feature catches each drift (share of {size}-request windows, >= 10%):")
    for kind in KINDS[1:]:
        outcomes = power[(kind, size)]
        counts: dict[str, int] = {}
        for outcome in outcomes:
            for name in outcome.features:
                counts[name] = counts.get(name, 0) + 1
        shown = ", ".join(f"{name} {count / len(outcomes):.0%}" for name, count in
                          sorted(counts.items(), key=lambda item: -item[1]) if count / len(outcomes) >= 0.1)
        print(f"  {kind:<15} {shown or 'nothing'}")


def _print_delays(delays: dict[tuple[str, int], list[dict]]) -> None:
    print("\nmedian delay: drifted requests until the first alarm, sliding windows from the episode's start "
          "(window size 25 / 50 / 100 / 200 / 500; >2w: not within two windows):")
    for check in DELAY_CHECKS:
        print(f"  {CHECK_TITLES[check]}")
        for kind in KINDS[1:]:
            cells = " ".join(f"{_median_delay([d[check] for d in delays[(kind, size)]], 2 * size):>6}"
                             for size in WINDOW_SIZES)
            print(f"    {kind:<15} {cells}")


def _print_estimates(power: dict[tuple[str, int], list[Outcome]], clean: dict[int, list[Outcome]],
                     sizes: Sequence[int]) -> None:
    print("\nlabel-free accuracy estimate vs true accuracy (mean absolute error over windows):")
    for method in accuracy_estimate.METHODS:
        print(f"  {method}{' (reported)' if method == accuracy_estimate.METHOD else ''}")
        overall: dict[int, list[float]] = {size: [] for size in sizes}
        for kind in KINDS:
            if kind == "ood_vehicles":
                continue
            cells = []
            for size in sizes:
                outcomes = clean[size] if kind == CLEAN else power[(kind, size)]
                errors = [abs(o.estimates[method] - o.accuracy) for o in outcomes
                          if method in o.estimates and o.accuracy is not None]
                truth = statistics.mean(o.accuracy for o in outcomes if o.accuracy is not None)
                estimate = statistics.mean(o.estimates[method] for o in outcomes if method in o.estimates)
                overall[size].append(statistics.mean(errors))
                cells.append(f"w{size}: MAE {statistics.mean(errors):.3f} (true {truth:.3f}, est {estimate:.3f})")
            print(f"    {kind:<15} " + "  ".join(cells))
        print("    mean over kinds " + "  ".join(f"w{size}: {statistics.mean(v):.3f}" for size, v in overall.items()))


# --- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (minutes less, figures noisier)")
    parser.add_argument("--clean-windows", type=int, default=1000)
    parser.add_argument("--drift-windows", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--entry-point-windows", type=int, default=2, help="per kind")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    scale = Scale(workers=args.workers)
    if args.quick:
        scale = Scale(epochs=3, clean_records=1500, drift_records=600, workers=args.workers)
        args.clean_windows, args.drift_windows, args.episodes, args.entry_point_windows = 200, 50, 5, 1
    started = time.perf_counter()
    settings = load_settings()
    world = drift_world.build_world(scale, settings.confidence_threshold)
    context = Context(
        baseline=json.loads((world.baseline / "statistics.json").read_text()),
        constraints=json.loads((world.baseline / "constraints.json").read_text()),
        config=checks.CheckConfig(settings.monitor.ks_alpha, settings.monitor.min_estimated_accuracy),
        threshold=settings.confidence_threshold,
        actions=dict(settings.monitor.actions),
    )
    fork = multiprocessing.get_context("fork")
    with fork.Pool(args.workers) as pool:
        context.records = load_records(world, settings.confidence_threshold, pool)
    say(f"feature rows of {sum(map(len, context.records.values()))} captured requests extracted")
    with fork.Pool(args.workers, initializer=_init_worker, initargs=(context,)) as pool:
        clean_tasks = [(CLEAN, size, args.clean_windows, 10 + size) for size in WINDOW_SIZES]
        drift_tasks = [(kind, size, args.drift_windows, 20 + size) for kind in KINDS[1:] for size in WINDOW_SIZES]
        delay_tasks = [(kind, size, args.episodes, 30 + size) for kind in KINDS[1:] for size in WINDOW_SIZES]
        clean_runs = pool.map_async(_random_windows, clean_tasks, chunksize=1)
        drift_runs = pool.map_async(_random_windows, drift_tasks, chunksize=1)
        delay_runs = pool.map_async(_delays, delay_tasks, chunksize=1)
        clean = {task[1]: outcomes for task, outcomes in zip(clean_tasks, clean_runs.get(), strict=True)}
        say("clean windows done")
        power = {(t[0], t[1]): outcomes for t, outcomes in zip(drift_tasks, drift_runs.get(), strict=True)}
        say("drifted windows done")
        delays = {(t[0], t[1]): found for t, found in zip(delay_tasks, delay_runs.get(), strict=True)}
        say("delay episodes done")
    agree, total = entry_point_agreement(world, context, seed=5, per_kind=args.entry_point_windows)
    _print_world(world, context, scale)
    _print_false_alarms(clean)
    _print_power(power)
    _print_alpha_power(power)
    _print_catchers(power, 100)
    _print_delays(delays)
    _print_estimates(power, clean, (100, 500))
    print(f"\nanalyzer entry point (analyzer.py on capture files) vs the in-process checks: {agree}/{total} "
          "windows of 100 with identical violations")
    built = f"reused a world built in {world.built_seconds:.0f} s" if world.reused else "world built in this run"
    print(f"\ndrift benchmark took {timedelta(seconds=round(time.perf_counter() - started))} ({built})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
