"""One budget, spent well: which classifier to measure, on how many rows, for the best answer
a number of CPU seconds can buy; and the regret-against-CPU curve that ``evaluate`` reports
for every way of spending them.

``recommend --budget SECONDS`` asks ``next_measurement`` again after each measurement: of
the (classifier, tier) measurements not yet taken whose predicted price fits in what is left,
the one with the highest expected gain per predicted second (the knowledge gradient of the
combiner's Gaussian beliefs, ``MeasurementCombiner.expected_gains``, over its predicted CV
seconds), until nothing affordable is worth ``MIN_GAIN``. ``budget_curve`` replays that and
the simpler policies (the prediction alone, the top k measured at one tier, everything
measured) on labelled datasets, where every measurement's result and price is a label.

No TensorFlow and no Prefect here: ``recommend`` imports it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from beyonder.evaluation.metrics import bootstrap_interval, pick_regret
from beyonder.params import EvaluateParams, SampleParams
from beyonder.selector.combiner import FULL, MeasurementCombiner, Tier
from beyonder.selector.corpus import Corpus

MIN_GAIN = 1e-4
"""Expected rise of the best estimated accuracy (0.01 points) below which a measurement is
not worth its seconds: the budget is a ceiling, not a target."""
INTERVAL_Z = 1.2815515655446004
"""Half-width of a central 80% normal interval, in standard deviations (the nominal coverage
of ``recommend``'s predicted intervals)."""
TOP_KS = (1, 2, 3, 5)
"""The k of "measure the top k predicted at one tier" that ``budget_curve`` replays."""
DEFAULT_SHARES = tuple(EvaluateParams().budget_shares)
"""Budgets ``budget_curve`` replays, as shares of each table's predicted brute-force CPU."""


class BudgetError(ValueError):
    """A budget that cannot be spent (not a number, not positive, more than brute force); one line."""


def check_budget_value(budget: Any) -> float | None:
    """``--budget`` as a positive number of CPU seconds, or ``None``; raises ``BudgetError``."""
    if budget is None:
        return None
    if isinstance(budget, bool):
        raise BudgetError(f"budget must be a number of CPU seconds, got {budget!r}")
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise BudgetError(f"budget must be a number of CPU seconds, got {budget!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise BudgetError(f"budget must be a positive number of CPU seconds, got {budget!r}")
    return value


def check_against_brute_force(
    budget: float, brute_force: float, n_classifiers: int, sample_rows: int
) -> None:
    """Refuse a budget above brute force's predicted price: cross-validating every classifier
    on the full sample is the most a budget can buy here."""
    if budget > brute_force:
        raise BudgetError(
            f"budget of {budget:g} CPU s is more than brute force is predicted to cost "
            f"({brute_force:.3g} s: CV of all {n_classifiers} classifiers on a {sample_rows}-row sample); "
            "ask for at most that"
        )


@dataclass
class Measurement:
    """One measurement taken (or tried): its tier, classifier, result and price."""

    classifier: str
    tier: str
    rows: int
    folds: int
    predicted_seconds: float
    expected_gain: float
    accuracy: float = float("nan")
    std: float = float("nan")
    cv_seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "classifier": self.classifier,
            "tier": self.tier,
            "rows": self.rows,
            "folds": self.folds,
            "accuracy": _finite_or_none(self.accuracy),
            "std": _finite_or_none(self.std),
            "cv_seconds": float(self.cv_seconds),
            "predicted_seconds": float(self.predicted_seconds),
            "expected_gain": float(self.expected_gain),
            "error": self.error,
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def next_measurement(
    combiner: MeasurementCombiner,
    predicted: np.ndarray,
    observed: dict[int, float],
    costs: np.ndarray,
    remaining: float,
    tried: set[int],
    allowed: np.ndarray,
) -> tuple[int, float] | None:
    """The slot (``combiner.slot`` order) to measure next and its expected gain, or ``None``.

    The candidates are each affordable measurement alone and, per tier, the current leaders
    measured together (the top 2, 3, ... by estimate not yet measured there): a comparison
    on one subsample can be worth far more than either measurement alone
    (``MeasurementCombiner.expected_gains``). The best by expected gain per predicted second
    wins; of a batch, its member worth most alone is measured first, and the search runs
    again with its result. ``costs``: predicted CV seconds per tier and classifier;
    ``allowed``: tiers x classifiers mask of measurements that can be taken on this table
    (its tiers fit its rows, its classifiers are ranked); ``tried``: slots already measured
    or failed. ``None`` when nothing affordable is worth ``MIN_GAIN``."""
    costs = np.asarray(costs, dtype=np.float64)
    T, C = costs.shape
    flat_cost = costs.ravel()
    open_ = [
        s for s in _untaken(flat_cost, allowed, tried | set(observed)) if flat_cost[s] <= remaining
    ]
    if not open_:
        return None
    means = combiner.posterior_means(predicted, observed)
    candidates: list[int | tuple[int, ...]] = list(open_)
    for t in range(T):
        leaders = sorted((s for s in open_ if s // C == t), key=lambda s: -means[s % C])
        for m in range(2, len(leaders) + 1):
            if flat_cost[leaders[:m]].sum() > remaining:
                break
            candidates.append(tuple(leaders[:m]))
    gains = combiner.expected_gains(predicted, observed, candidates)
    price = np.array(
        [flat_cost[list(c)].sum() if isinstance(c, tuple) else flat_cost[c] for c in candidates]
    )
    per_second = np.where(gains >= MIN_GAIN, gains / np.maximum(price, 1e-9), -np.inf)
    if not np.isfinite(per_second).any():
        return None
    pick = int(np.argmax(per_second))
    best, gain = candidates[pick], float(gains[pick])
    if not isinstance(best, tuple):
        return best, gain
    alone = dict(zip(open_, gains[: len(open_)], strict=True))
    return max(best, key=lambda s: (alone[s], means[s % C])), gain


def _untaken(flat_cost: np.ndarray, allowed: np.ndarray, taken: set[int]) -> list[int]:
    """The allowed slots with a price (``flat_cost``: the costs in slot order) that are not in
    ``taken``, affordable or not."""
    mask = np.asarray(allowed, dtype=bool).ravel()
    return [
        s for s in np.flatnonzero(mask).tolist() if s not in taken and np.isfinite(flat_cost[s])
    ]


STOPS = {
    "nothing_worth_it": "no measurement that fits in the rest of the budget is worth its seconds",
    "budget_spent": "no measurement left fits in the rest of the budget",
    "all_measured": "every measurement was taken",
}
"""Why ``spend_budget`` stopped, and how ``recommend`` says it. The budget is a ceiling:
measuring stops once nothing affordable is expected to raise the best estimate by
``MIN_GAIN``."""


@dataclass
class Spending:
    """What a budget bought: the measured accuracy per slot, the CPU seconds spent and why
    the spending stopped (one of ``STOPS``)."""

    observed: dict[int, float]
    spent: float
    stopped: str


def spend_budget(
    combiner: MeasurementCombiner,
    predicted: np.ndarray,
    costs: np.ndarray,
    allowed: np.ndarray,
    budget: float,
    measure: Callable[[int, float], tuple[float, float]],
) -> Spending:
    """Spend ``budget`` CPU seconds one measurement at a time (``next_measurement``), each
    charged at what it really cost: ``measure(slot, expected_gain)`` takes the measurement
    and returns its accuracy (NaN when it failed) and CPU seconds. ``recommend --budget`` and
    the replay of ``evaluate`` run this same loop, on a table and on labels."""
    observed: dict[int, float] = {}
    tried: set[int] = set()
    spent = 0.0
    while True:
        step = next_measurement(
            combiner, predicted, observed, costs, budget - spent, tried, allowed
        )
        if step is None:
            break
        slot, gain = step
        value, seconds = measure(slot, gain)
        tried.add(slot)
        spent += float(seconds)
        if math.isfinite(value):
            observed[slot] = float(value)
    flat_cost = np.asarray(costs, dtype=np.float64).ravel()
    left = flat_cost[_untaken(flat_cost, allowed, tried)]
    if not left.size:
        stopped = "all_measured"
    elif left.min() > budget - spent:
        stopped = "budget_spent"
    else:
        stopped = "nothing_worth_it"
    return Spending(observed, spent, stopped)


def estimates(
    combiner: MeasurementCombiner, predicted: np.ndarray, observed: dict[int, float]
) -> dict[str, np.ndarray]:
    """The combined estimate per classifier, its standard deviation and 80% interval."""
    mean, cov = combiner.posterior(predicted, observed)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return {
        "estimated_accuracy": mean,
        "estimated_std": sd,
        "estimated_low": np.clip(mean - INTERVAL_Z * sd, 0.0, 1.0),
        "estimated_high": np.clip(mean + INTERVAL_Z * sd, 0.0, 1.0),
    }


# --------------------------------------------------------------------------- evaluate side


@dataclass
class LabelledTable:
    """What replaying the policies on one labelled dataset needs: per replicate (rows) the
    model's predicted accuracies and fold fit times, the replicate's CV labels and their
    CPU seconds; per measurement tier the subsample's labels and seconds; the fitted
    combiner of the dataset's fold, its SBS, and the prediction's own CPU seconds."""

    dataset: str
    predicted: np.ndarray  # replicates x classifiers
    fit_time: np.ndarray  # predicted fold fit seconds, replicates x classifiers
    accuracy: np.ndarray  # replicate CV labels, replicates x classifiers
    seconds: np.ndarray  # their CV seconds
    tiers: dict[str, tuple[np.ndarray, np.ndarray]]  # tier -> (accuracy, seconds) per classifier
    combiner: MeasurementCombiner
    sbs: int
    prediction_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    group: str = ""


def labelled_tables(
    test: Corpus,
    details: dict[str, np.ndarray],
    combiners: dict[str, MeasurementCombiner],
    measurements: pd.DataFrame | None,
    sbs_index: dict[str, int],
    groups: dict[str, str],
    tiers: Sequence[Tier],
) -> list[LabelledTable]:
    """One ``LabelledTable`` per dataset of ``test`` (bootstrap replicates, in any order) that
    has a combiner and an SBS: ``details`` holds, per sample of ``test``, the model's
    ``accuracy`` and ``fit_time`` predictions (and ``prediction_seconds``, the prediction's
    own CPU); ``measurements`` the measurement subsamples' labels (``load_measurements``)."""
    full = next(t for t in tiers if t.name == FULL)
    seconds = test.cv_seconds(full.folds)
    cheap = [t.name for t in tiers if t.name != FULL]
    by_dataset: dict[str, pd.DataFrame] = {}
    if measurements is not None and len(measurements):
        by_dataset = {str(d): g for d, g in measurements.groupby("dataset")}
    spent = details.get("prediction_seconds")
    out = []
    for dataset, rows in sorted(test.index.groupby("dataset").indices.items()):
        rows = np.asarray(rows)
        rows = rows[(test.index["kind"].to_numpy()[rows] == "bootstrap")]
        if dataset not in combiners or dataset not in sbs_index or not len(rows):
            continue
        measured: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        part = by_dataset.get(str(dataset))
        for name in cheap:
            if part is None:
                break
            tier = part[part["tier"] == name].set_index("classifier")
            if tier.empty:
                continue
            measured[name] = (
                tier["accuracy"].reindex(test.classifiers).to_numpy(np.float64),
                tier["seconds"].reindex(test.classifiers).to_numpy(np.float64),
            )
        out.append(
            LabelledTable(
                dataset=str(dataset),
                predicted=np.asarray(details["accuracy"])[rows],
                fit_time=np.asarray(details["fit_time"])[rows],
                accuracy=test.accuracy[rows],
                seconds=seconds[rows],
                tiers=measured,
                combiner=combiners[dataset],
                sbs=int(sbs_index[dataset]),
                prediction_seconds=np.zeros(len(rows))
                if spent is None
                else np.asarray(spent, dtype=np.float64)[rows],
                group=groups.get(str(dataset), ""),
            )
        )
    return out


def prediction_cpu(
    predictor: Any, files: Sequence[Any], subsamples: int = SampleParams.subsamples
) -> np.ndarray:
    """CPU seconds of the prediction itself per sample file, as ``recommend`` pays them with
    the model loaded: encoding and the network (``predictor``: a ``BeyonderPredictor``,
    e.g. the NumPy one ``recommend`` runs) on ``subsamples`` samples of that size."""
    import time

    from beyonder.selector.encoding import encode_sample

    out = np.zeros(len(files))
    for i, file in enumerate(files):
        frame = pd.read_parquet(file)
        start = time.process_time()
        predictor.predict([encode_sample(frame)])
        out[i] = subsamples * (time.process_time() - start)
    return out


def mode_names(
    combiner_tiers: Sequence[str],
    ks: Sequence[int] = TOP_KS,
    shares: Sequence[float] = DEFAULT_SHARES,
) -> list[str]:
    """Every policy ``budget_curve`` replays, cheapest family first."""
    names = ["sbs", "predicted"]
    for tier in combiner_tiers:
        names += [f"top{k}@{tier}" for k in ks] + [f"all@{tier}"]
    names += [f"verify{k}" for k in ks]
    names += [f"budget{share:g}" for share in shares]
    names += ["brute_force"]
    return names


def _replay(
    table: LabelledTable, r: int, ks: Sequence[int], shares: Sequence[float]
) -> tuple[dict[str, tuple[int, float]], dict[str, Any]]:
    """Each policy's pick and CPU seconds when the user's table is replicate ``r``, and how
    each budget ended: per budget mode its ``Spending.stopped`` and measuring seconds, with
    brute force's labelled and predicted CPU seconds."""
    comb = table.combiner
    C = len(comb.classifiers)
    tier_names = [t.name for t in comb.tiers]
    p = table.predicted[r]
    predict_cost = float(table.prediction_seconds[r]) if len(table.prediction_seconds) else 0.0
    values = np.full((len(tier_names), C), np.nan)
    prices = np.zeros((len(tier_names), C))
    for i, name in enumerate(tier_names):
        if name == FULL:
            values[i], prices[i] = table.accuracy[r], np.nan_to_num(table.seconds[r])
        elif name in table.tiers:
            acc, sec = table.tiers[name]
            values[i], prices[i] = acc, np.nan_to_num(sec)
    present = np.array([name == FULL or name in table.tiers for name in tier_names])
    order = np.argsort(-p, kind="stable")
    out: dict[str, tuple[int, float]] = {
        "sbs": (table.sbs, 0.0),
        "predicted": (int(order[0]), predict_cost),
    }

    def combined(slots: list[int]) -> int:
        observed = {s: float(values.ravel()[s]) for s in slots if np.isfinite(values.ravel()[s])}
        mean, _ = comb.posterior(p, observed)
        return int(np.argmax(mean))

    for i, name in enumerate(tier_names):
        for k in [*ks, C]:
            label = f"all@{name}" if k == C else f"top{k}@{name}"
            if not present[i]:
                continue
            top = order[:k]
            slots = [i * C + int(c) for c in top]
            out[label] = (combined(slots), predict_cost + float(prices[i, top].sum()))
    full = tier_names.index(FULL)
    for (
        k
    ) in ks:  # today's --verify K: the top k measured on the full sample, the best measured wins
        top = order[:k]
        measured = np.nan_to_num(values[full, top], nan=-np.inf)
        pick = int(top[int(np.argmax(measured))]) if np.isfinite(measured).any() else int(order[0])
        out[f"verify{k}"] = (pick, predict_cost + float(prices[full, top].sum()))
    brute = np.nan_to_num(values[full], nan=-np.inf)
    out["brute_force"] = (
        int(np.argmax(brute)) if np.isfinite(brute).any() else int(order[0]),
        float(prices[full].sum()),
    )
    costs = comb.predicted_costs(table.fit_time[r])
    allowed = present[:, None] & np.ones((1, C), dtype=bool)
    ceiling = float(costs[full].sum())
    endings: dict[str, Any] = {
        "brute_force": float(prices[full].sum()),
        "brute_force_predicted": ceiling,
        "budgets": {},
    }

    def label(slot: int, _gain: float) -> tuple[float, float]:
        return float(values.ravel()[slot]), float(prices.ravel()[slot])

    for share in shares:
        spending = spend_budget(comb, p, costs, allowed, share * ceiling, label)
        mean, _ = comb.posterior(p, spending.observed)
        out[f"budget{share:g}"] = (int(np.argmax(mean)), predict_cost + spending.spent)
        endings["budgets"][f"budget{share:g}"] = (spending.stopped, spending.spent)
    return out, endings


def budget_curve(
    tables: Sequence[LabelledTable],
    ks: Sequence[int] = TOP_KS,
    shares: Sequence[float] = DEFAULT_SHARES,
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
) -> dict[str, Any]:
    """Regret against CPU seconds for every policy (``mode_names``), on the same truth.

    Each replicate of a dataset is in turn the user's table (its prediction, its CV labels as
    full-sample measurements, the dataset's measurement subsamples as cheap ones); the truth
    is the mean label of the *other* replicates, so a pick and its price share no CV noise,
    and brute force is exactly "CV of all classifiers on one replicate, priced on the others".
    Regret (points) and CPU seconds are averaged over the replicates, then over datasets;
    ``cpu_share`` is a policy's mean CPU over brute force's; ``regret_vs_brute_force_ci`` a
    paired bootstrap interval (datasets resampled) of its mean regret minus brute force's;
    ``budget_endings`` why and where each budget stopped (``budget_endings``). With several
    corpus groups, ``by_group`` has the same per group."""
    per_dataset: dict[str, dict[str, tuple[float, float]]] = {}
    groups: dict[str, str] = {}
    modes: list[str] = []
    endings: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for table in tables:
            rows = [r for r in range(len(table.accuracy)) if np.isfinite(table.accuracy[r]).any()]
            if len(rows) < 2:
                continue
            sums: dict[str, list[tuple[float, float]]] = {}
            for r in rows:
                truth = np.nanmean(table.accuracy[[o for o in rows if o != r]], axis=0)
                if not np.isfinite(truth).any():
                    continue
                picks, ending = _replay(table, r, ks, shares)
                for mode, (pick, cost) in picks.items():
                    sums.setdefault(mode, []).append((pick_regret(truth, pick), cost))
                endings.append({**ending, "group": table.group})
            if not sums:
                continue
            per_dataset[table.dataset] = {m: tuple(np.mean(v, axis=0)) for m, v in sums.items()}
            groups[table.dataset] = table.group
            for m in sums:
                if m not in modes:
                    modes.append(m)
    names = (
        [
            m
            for m in mode_names([t.name for t in tables[0].combiner.tiers], ks, shares)
            if m in modes
        ]
        if tables
        else []
    )
    report = _curve(per_dataset, sorted(per_dataset), names, n_boot, seed)
    report["budget_endings"] = budget_endings(endings)
    by_group = sorted(set(groups.values()))
    if len(by_group) > 1:
        report["by_group"] = {
            g or "(unknown)": {
                **_curve(
                    per_dataset,
                    sorted(d for d, gg in groups.items() if gg == g),
                    names,
                    n_boot,
                    seed,
                ),
                "budget_endings": budget_endings([e for e in endings if e["group"] == g]),
            }
            for g in by_group
        }
    report["per_dataset"] = {
        d: {m: [round(v[0], 4), round(v[1], 5)] for m, v in values.items()}
        for d, values in sorted(per_dataset.items())
    }
    return report


def budget_endings(endings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Why the budgets of a replay stopped short of their ceiling, from ``_replay``'s endings
    (one per replicate replayed as the user's table).

    ``brute_force_price``: brute force's predicted CPU over its labelled CPU, summed over the
    replays (``total``: what a mode's ``cpu_share`` compares with) and per replay
    (``median``). Per budget mode and ``STOPS`` reason: the share of replays that stopped
    so (``replays``), their share of brute force's labelled CPU (``brute_force_cpu``) and
    what they spent of it (``spent``). A budget that stops as ``nothing_worth_it`` on the
    tables where brute force is dearest spends far less of the summed CPU than of a typical
    table's."""
    if not endings:
        return {}
    brute = np.array([e["brute_force"] for e in endings], dtype=np.float64)
    predicted = np.array([e["brute_force_predicted"] for e in endings], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = predicted / brute
    out: dict[str, Any] = {
        "replays": len(endings),
        "brute_force_price": {
            "predicted_over_actual_total": _share(predicted.sum(), brute.sum()),
            "predicted_over_actual_median": float(np.median(ratio[np.isfinite(ratio)]))
            if np.isfinite(ratio).any()
            else float("nan"),
        },
        "modes": {},
    }
    for mode in endings[0]["budgets"]:
        stopped = np.array([e["budgets"][mode][0] for e in endings])
        spent = np.array([e["budgets"][mode][1] for e in endings], dtype=np.float64)
        out["modes"][mode] = {}
        for reason in STOPS:
            these = stopped == reason
            out["modes"][mode][reason] = {
                "replays": float(np.mean(these)),
                "brute_force_cpu": _share(brute[these].sum(), brute.sum()),
                "spent": _share(spent[these].sum(), brute[these].sum()),
            }
    return out


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole > 0 else float("nan")


def _curve(
    per_dataset: dict[str, dict[str, tuple[float, float]]],
    datasets: list[str],
    names: list[str],
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    datasets = [d for d in datasets if "brute_force" in per_dataset[d] and "sbs" in per_dataset[d]]
    if not datasets:
        return {"n_datasets": 0, "modes": []}

    def column(mode: str, k: int) -> np.ndarray:
        return np.array(
            [per_dataset[d].get(mode, (np.nan, np.nan))[k] for d in datasets], dtype=np.float64
        )

    brute_regret, brute_cpu = column("brute_force", 0), column("brute_force", 1)
    sbs = float(np.nanmean(column("sbs", 0)))
    brute_cpu_mean = float(np.nanmean(brute_cpu))
    rows = []
    for mode in names:
        regret, cpu = column(mode, 0), column(mode, 1)
        ok = np.isfinite(regret)
        if not ok.any():
            continue
        diff = regret - brute_regret
        mean_regret = float(np.nanmean(regret))
        rows.append(
            {
                "mode": mode,
                "n_datasets": int(ok.sum()),
                "mean_regret": mean_regret,
                "gap_closed": (sbs - mean_regret) / sbs if sbs > 1e-12 else float("nan"),
                "cpu_seconds": float(np.nanmean(cpu)),
                "cpu_share": float(np.nanmean(cpu[ok]) / np.nanmean(brute_cpu[ok]))
                if np.nanmean(brute_cpu[ok]) > 0
                else float("nan"),
                "regret_vs_brute_force": float(np.nanmean(diff)),
                "regret_vs_brute_force_ci": list(bootstrap_interval(diff, n_boot, seed)),
                "better_worse_than_brute_force": [
                    int((diff < -1e-9).sum()),
                    int((diff > 1e-9).sum()),
                ],
            }
        )
    return {
        "n_datasets": len(datasets),
        "sbs_mean_regret": sbs,
        "brute_force_mean_regret": float(np.nanmean(brute_regret)),
        "brute_force_cpu_seconds": brute_cpu_mean,
        "modes": rows,
    }


def headline(curve: dict[str, Any]) -> dict[str, Any]:
    """Answers to "how cheaply is brute force's regret reached, and what beats it": the
    cheapest policy whose mean regret is at most brute force's, and the policies reliably
    better than brute force (paired interval wholly below 0) at no more than its CPU."""
    modes = [m for m in curve.get("modes", []) if m["mode"] != "brute_force"]
    bf = curve.get("brute_force_mean_regret", float("nan"))
    matching = sorted((m for m in modes if m["mean_regret"] <= bf), key=lambda m: m["cpu_share"])
    better = [
        m["mode"] for m in modes if m["regret_vs_brute_force_ci"][1] < 0 and m["cpu_share"] <= 1.0
    ]
    return {
        "cheapest_at_brute_force_regret": matching[0]["mode"] if matching else None,
        "its_cpu_share": matching[0]["cpu_share"] if matching else None,
        "reliably_better_than_brute_force": better,
    }


def replay(
    replay_data: dict[str, Any],
    corpus: Corpus,
    measurements: pd.DataFrame | None,
    tiers: Sequence[Tier],
    groups: dict[str, str] | None = None,
    shares: Sequence[float] = DEFAULT_SHARES,
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    combiner_factory: Any = None,
) -> dict[str, Any]:
    """The budget curve of an ``evaluate --corpus`` report computed again from what it kept
    (``decisions.replay``: each fold's test datasets and validation predictions, the test
    samples' predictions, the SBS) and the workspace's labels (``corpus``: its bootstrap
    samples; ``measurements``), without training anything: each fold's combiner is refitted
    (``combiner_factory(tiers, classifiers)``, default ``MeasurementCombiner``), so a change
    to the combiner or the policies is measured on the same predictions and truth."""
    from beyonder.selector.combiner import calibration_labels, calibration_predictions

    factory = combiner_factory or MeasurementCombiner
    full = next(t for t in tiers if t.name == FULL)
    dataset_of = dict(zip(corpus.index["sample_id"], corpus.index["dataset"], strict=True))
    everything = set(corpus.index["dataset"])
    combiners: dict[str, MeasurementCombiner] = {}
    for fold in replay_data["folds"]:
        test_sets = set(fold["test"])
        validation = fold.get("validation")
        if not validation or not validation["sample_id"]:
            continue
        index = pd.DataFrame(
            {
                "sample_id": validation["sample_id"],
                "dataset": [dataset_of[s] for s in validation["sample_id"]],
            }
        )
        labels = calibration_labels(corpus, measurements, everything - test_sets, full.folds)
        predictions = calibration_predictions(
            index, np.array(validation["predicted"]), corpus.classifiers
        )
        try:
            combiner = factory(list(tiers), corpus.classifiers).fit(labels, predictions)
        except ValueError:
            continue
        combiners.update(dict.fromkeys(test_sets, combiner))
    samples = replay_data["samples"]
    rows = pd.Index(corpus.index["sample_id"]).get_indexer(samples["sample_id"])
    test = corpus.subset(np.isin(np.arange(len(corpus.index)), rows[rows >= 0]))
    order = pd.Index(samples["sample_id"]).get_indexer(test.index["sample_id"])
    details = {
        "accuracy": np.array(samples["predicted"], dtype=np.float64)[order],
        "fit_time": np.array(samples["fit_time"], dtype=np.float64)[order],
        "prediction_seconds": np.array(samples["prediction_seconds"], dtype=np.float64)[order],
    }
    sbs = {str(d): int(i) for d, i in replay_data["sbs"].items()}
    tables = labelled_tables(test, details, combiners, measurements, sbs, groups or {}, tiers)
    return budget_curve(tables, shares=shares, n_boot=n_boot, seed=seed)
