"""The registered MLflow model (logged as code, so loading it unpickles nothing).

Input: a dataset as a DataFrame that includes its target column, named by the ``target``
param (default in the model's metadata); ``time_budget`` (seconds), ``verify`` (K),
``budget`` (CPU seconds of measurements) and ``metric`` params as ``beyonder recommend
--time-budget / --verify / --budget / --metric`` (left-out classifiers come last, rank 0,
with their reason in ``left_out``). Output: one row per portfolio classifier with its
predicted accuracy, spread and fit time, best first; a model with regularisation heads adds,
for each tuned classifier, ``suggested_C``, ``accuracy_at_suggested_C`` and
``accuracy_at_default_C`` (``recommend.REGULARISATION_COLUMNS``). Unusable input (no target column, one
class...) raises ``MlflowException`` with ``INVALID_PARAMETER_VALUE``, which the scoring
server (``mlflow models serve``) answers with HTTP 400 and the one-line reason.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from beyonder.params import LocalSource
from beyonder.serving.recommend import MODEL_ARTIFACT, Recommender, RecommendError


class BeyonderModel(PythonModel):
    def load_context(self, context) -> None:
        self.recommender = Recommender.load(context.artifacts[MODEL_ARTIFACT])
        self.default_target = (
            context.model_config.get("target", LocalSource.target)
            if context.model_config
            else LocalSource.target
        )

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        params = params or {}
        target = params.get("target") or self.default_target
        try:
            return self.recommender.predict(
                pd.DataFrame(model_input), target, time_budget=params.get("time_budget"),
                verify=params.get("verify") or 0, budget=params.get("budget"),
                metric=params.get("metric") or "accuracy",
            )  # fmt: skip
        except RecommendError as exc:
            raise MlflowException(f"beyonder: {exc}", error_code=INVALID_PARAMETER_VALUE) from None


mlflow.models.set_model(BeyonderModel())
