"""The imputer: encoding invariances, the network's equivariances, filling (every observed
cell kept, chunks for tables larger than a view), the scikit-learn transformer, the command's
files and bad input. One tiny model, trained once (one epoch on three small tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from beyonder.cli import main
from beyonder.imputer.api import BeyonderImputer, ImputeError, fill, impute, read_table
from beyonder.imputer.imputation import (
    CellImputer,
    ImputerConfig,
    encode_view,
    keep_observed,
    mnar_mask,
    network_inputs,
    table_from_frame,
)

TINY = ImputerConfig(rows=16, features=4, levels=4, dim=8, heads=2, blocks=1, epochs=1, views_per_table=2,
                     batch_size=4, predict_rows=16, context_rows=8, views=1, seed=3)  # fmt: skip


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "a": a,
            "b": 2 * a + rng.normal(scale=0.1, size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "c": rng.integers(0, 5, n).astype(float),
            "class": rng.choice(["yes", "no"], n),
        }
    )


def with_holes(df: pd.DataFrame, rate: float = 0.2, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = df.drop(columns=["class"])
    holes = rng.random(features.shape) < rate
    holes[:2] = False  # every column keeps observed cells
    out = df.copy()
    out[features.columns] = features.mask(holes)
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    tables = [table_from_frame(frame(40, s).drop(columns=["class"])) for s in range(3)]
    folder = tmp_path_factory.mktemp("imputer") / "model"
    CellImputer(TINY).fit(tables).save(folder)
    return folder


def test_encoding_is_invariant_to_row_and_column_order_and_level_names() -> None:
    df = frame(20).drop(columns=["class"])
    table = table_from_frame(df)
    rows, cols = np.arange(20), np.arange(4)
    hidden = np.zeros((20, 4), dtype=bool)
    hidden[3, 0] = hidden[5, 2] = True
    base = encode_view(table, rows, cols, hidden, 4)
    perm_r, perm_c = np.random.default_rng(0).permutation(20), np.array([2, 0, 3, 1])
    moved = encode_view(table, perm_r, perm_c, hidden[np.ix_(perm_r, perm_c)], 4)
    np.testing.assert_allclose(moved.cells, base.cells[np.ix_(perm_r, perm_c)], atol=1e-6)
    np.testing.assert_allclose(moved.numeric_target, base.numeric_target[np.ix_(perm_r, perm_c)])
    renamed = df.assign(colour=df["colour"].map({"red": "z1", "green": "a9", "blue": "m"}))
    again = encode_view(table_from_frame(renamed), rows, cols, hidden, 4)
    np.testing.assert_array_equal(again.cells, base.cells)
    np.testing.assert_array_equal(again.level_target, base.level_target)
    # only hidden cells are scored; hidden cells look missing to the network
    assert np.isfinite(base.numeric_target).sum() == 1 and (base.level_target >= 0).sum() == 1
    assert base.cells[3, 0, 2] == 1 and base.cells[3, 0, 0] == 0


def test_network_is_equivariant_to_rows_and_columns(model: Path) -> None:
    imputer = CellImputer.load(model)
    table = table_from_frame(with_holes(frame(16)).drop(columns=["class"]))
    view = encode_view(table, np.arange(16), np.arange(4), None, 4)
    perm_r, perm_c = np.random.default_rng(1).permutation(16), np.array([3, 1, 0, 2])
    moved = encode_view(table, perm_r, perm_c, None, 4)
    out = imputer.model_.predict_on_batch(network_inputs([view, moved], 16, 4))
    numeric = np.asarray(out["numeric"])
    np.testing.assert_allclose(numeric[1], numeric[0][np.ix_(perm_r, perm_c)], atol=1e-4)
    scores = np.asarray(out["level"])
    np.testing.assert_allclose(scores[1], scores[0][np.ix_(perm_r, perm_c)], atol=1e-3)


def test_fill_keeps_every_observed_cell_and_is_repeatable(model: Path) -> None:
    imputer = CellImputer.load(model)
    holes = with_holes(frame(30)).drop(columns=["class"])
    filled = fill(holes, imputer, seed=0)
    assert not filled.isna().any().any()
    observed = holes.notna()
    for column in holes.columns:
        pd.testing.assert_series_equal(filled[column][observed[column]], holes[column][observed[column]],
                                       check_dtype=False)  # fmt: skip
    assert set(filled["colour"]) <= set(holes["colour"].dropna())
    pd.testing.assert_frame_equal(fill(holes, imputer, seed=0), filled)


def test_tables_larger_than_a_view_are_filled_in_chunks(model: Path) -> None:
    imputer = CellImputer.load(model)
    big = with_holes(frame(70, seed=5)).drop(columns=["class"])
    big["d"] = big["a"] * 3  # 5 columns > features=4: column groups too
    big.loc[7, "d"] = np.nan
    filled = fill(big, imputer, seed=0)
    assert not filled.isna().any().any() and filled.shape == big.shape


def test_the_target_is_not_read_unless_asked(model: Path) -> None:
    df = with_holes(frame(30))
    df.loc[4, "class"] = None
    flipped = df.assign(**{"class": df["class"].map({"yes": "no", "no": "yes"})})
    one = impute(df, target="class", model=model, seed=0)
    two = impute(flipped, target="class", model=model, seed=0)
    pd.testing.assert_frame_equal(one.drop(columns=["class"]), two.drop(columns=["class"]))
    assert pd.isna(one.loc[4, "class"])  # the target's own missing cell stays
    assert not pd.isna(impute(df, target="class", use_target=True, model=model).loc[4, "class"])


def test_sklearn_transformer_in_a_pipeline(model: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    df = with_holes(frame(40))
    X = df[["a", "b", "c"]].to_numpy()
    y = df["class"].to_numpy()
    pipe = make_pipeline(BeyonderImputer(model=str(model)), LogisticRegression()).fit(X, y)
    assert pipe.predict(X).shape == (40,)
    transformer = BeyonderImputer(model=str(model), context_rows=10).fit(df[["a", "colour"]])
    out = transformer.transform(df[["a", "colour"]])
    assert isinstance(out, pd.DataFrame) and not out.isna().any().any()
    assert list(transformer.get_feature_names_out()) == ["a", "colour"]


def test_masks_keep_observed_cells() -> None:
    table = table_from_frame(frame(50).drop(columns=["class"]))
    rng = np.random.default_rng(0)
    hidden = mnar_mask(table, np.arange(50), np.arange(4), 0.2, rng)
    a = table.values[:, 0]
    assert not hidden[a < np.median(a), 0].any()  # only the upper side of a numeric column
    everything = keep_observed(np.ones((50, 4), dtype=bool), table.missing, rng)
    assert (~everything).sum(axis=0).min() >= 2


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".arff"])
def test_command_writes_the_same_format(model: Path, tmp_path: Path, suffix: str, capsys) -> None:
    df = with_holes(frame(25))
    path = tmp_path / f"t{suffix}"
    _write(df, path)
    out = tmp_path / f"out{suffix}"
    assert main(["impute", str(path), "-o", str(out), "--model", str(model)]) == 0
    assert "filled" in capsys.readouterr().out
    back, target = read_table(out)
    assert target == "class" and not back.drop(columns=["class"]).isna().any().any()
    observed = df["a"].notna().to_numpy()
    np.testing.assert_allclose(
        back["a"].to_numpy(dtype=float)[observed], df["a"].to_numpy()[observed], rtol=1e-9
    )


def test_command_no_missing_cell_copies_the_file(model: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "full.csv"
    frame(10).to_csv(path, index=False)
    assert main(["impute", str(path), "--model", str(model)]) == 0
    assert (tmp_path / "full.imputed.csv").read_bytes() == path.read_bytes()
    assert "no missing cell" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, expected",
    [("empty_column", "has fewer than 2 values"), ("one_row", "1 row(s)"), ("not_a_table", "t.csv"),
     ("image", "not a CSV, ARFF or Parquet file")],
)  # fmt: skip
def test_command_bad_input_is_one_line_and_writes_nothing(
    model: Path, tmp_path: Path, capsys, case, expected
) -> None:
    path = tmp_path / ("t.png" if case == "image" else "t.csv")
    if case == "empty_column":
        with_holes(frame(10)).assign(a=np.nan).to_csv(path, index=False)
    elif case == "one_row":
        with_holes(frame(10), rate=0.0).head(1).assign(a=np.nan).to_csv(path, index=False)
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert main(["impute", str(path), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_python_api_errors_name_the_problem(model: Path) -> None:
    with pytest.raises(ImputeError, match="column 'a' has fewer than 2 values"):
        impute(with_holes(frame(10)).assign(a=np.nan), target="class", model=model)
    with pytest.raises(ImputeError, match="no target column 'label'"):
        impute(frame(10), target="label", model=model)


def _write(df: pd.DataFrame, path: Path) -> None:
    from beyonder.imputer.api import write_table

    write_table(df, path, {".csv": "csv", ".parquet": "parquet", ".arff": "arff"}[path.suffix])


def test_the_split_holds_out_what_evaluate_holds_out() -> None:
    from beyonder.data.splits import grouped_test_split
    from beyonder.imputer.imputation import corpus_files, split_names
    from beyonder.params import load_params

    repo = Path(__file__).resolve().parents[1]
    params = load_params(repo / "params.yaml")
    names = sorted(corpus_files([repo / f for f in params.ingest.local.folders]))
    train, val, test = split_names(names, params)
    sp = params.split
    assert set(test) == grouped_test_split(names, sp.test_fraction, params.seed, sp.families)
    assert (
        not (set(train) & set(test)) and not (set(val) & set(test)) and not (set(train) & set(val))
    )
    assert len(train) + len(val) + len(test) == len(names)


def test_imputer_params() -> None:
    """The stage's config: the ``impute`` section's network keys and the top-level seed; the
    stage's own keys stay out of the saved config; typos and a section seed are refused."""
    from beyonder.params import ParamsError, parse_params
    from beyonder.stages.imputer import imputer_config

    config = imputer_config(parse_params({"seed": 7, "impute": {"dim": 8, "score_tables": 3}}))
    assert (config.seed, config.dim) == (7, 8) and not hasattr(config, "score_tables")
    for typo in ({"dims": 8}, {"seed": 1}):
        with pytest.raises(ParamsError, match="impute: unknown key"):
            parse_params({"impute": typo})


def test_scoring_helpers_count_hidden_cells_only() -> None:
    from beyonder.imputer.scores import hide, scores, sklearn_fill

    X = frame(40).drop(columns=["class"])
    masked, hidden = hide(X, "mcar30", [0])
    assert hidden.any() and masked.isna().to_numpy()[hidden].all()
    assert scores(X, X, hidden) == {"nrmse": 0.0, "accuracy": 1.0}
    for method in ("simple", "knn", "iterative"):
        filled = sklearn_fill(masked, method, 0)
        assert not filled.isna().any().any()
        result = scores(X, filled, hidden)
        assert result["nrmse"] > 0 and 0 <= result["accuracy"] <= 1


def test_the_imputer_serves_only_if_it_beats_the_mean_and_the_champion(
    model: Path, tmp_path: Path, monkeypatch
) -> None:
    """``register_imputer``: the first imputer that beats mean imputation becomes champion; the
    same imputer registered again ties with the champion on the same tables and stays
    challenger; scores worse than mean imputation never serve."""
    import mlflow
    from helpers import use_registry

    from beyonder import tracking
    from beyonder.evaluation.champion import decide_imputer
    from beyonder.imputer.imputation import CellImputer
    from beyonder.imputer.tracking import log_imputer
    from beyonder.params import parse_params
    from beyonder.stages.imputer import register_imputer, validation_scores

    files = {}
    for s in range(2):
        files[f"t{s}"] = tmp_path / f"t{s}.csv"
        frame(60, 10 + s).to_csv(files[f"t{s}"], index=False)
    params = parse_params(
        {"seed": 0, "impute": {"score_tables": 2, "score_rows": 60, "score_pattern": "mcar20"}}
    )
    imputer = CellImputer.load(model)
    metrics = validation_scores(imputer, files, list(files), params)
    assert metrics["score_tables"] == 2 and metrics["beyonder_nrmse"] is not None
    metrics["simple_nrmse"] = (
        metrics["beyonder_nrmse"] + 1.0
    )  # the rule under test, not this tiny net
    old_uri = mlflow.get_tracking_uri()
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    try:
        use_registry(tmp_path / "registry")
        decisions = []
        for _ in range(2):
            with mlflow.start_run():
                uri = log_imputer(model)
            version, decision = register_imputer(
                uri, metrics, files, list(files), params, str(tmp_path)
            )
            decisions.append((version.version, decision))
        assert decisions[0][1].promote and "no champion yet" in decisions[0][1].reason
        assert (
            not decisions[1][1].promote and "not better than the champion" in decisions[1][1].reason
        )
        assert str(tracking.champion_version(tracking.IMPUTER_NAME).version) == str(decisions[0][0])
        assert str(
            tracking.alias_version(tracking.CHALLENGER, tracking.IMPUTER_NAME).version
        ) == str(decisions[1][0])
    finally:
        mlflow.set_tracking_uri(old_uri)
        mlflow.set_registry_uri(old_uri)
    worse = {**metrics, "simple_nrmse": metrics["beyonder_nrmse"] - 0.01}
    assert not decide_imputer(worse, None).promote
    categorical_only = {"beyonder_nrmse": None, "beyonder_accuracy": 0.6, "simple_accuracy": 0.5}
    assert decide_imputer(categorical_only, None).promote
    assert not decide_imputer(categorical_only, {"beyonder_accuracy": 0.7}).promote
    assert decide_imputer(categorical_only, {"beyonder_accuracy": 0.55}).promote
