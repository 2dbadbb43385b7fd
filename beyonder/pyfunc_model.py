"""The registered MLflow model (logged as code, so loading it unpickles nothing).

Input: a dataset as a DataFrame that includes its target column, named by the ``target``
param (default in the model's metadata). Output: one row per portfolio classifier with its
predicted accuracy, spread and fit time, best first.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from beyonder.recommend import Recommender


class BeyonderModel(PythonModel):
    def load_context(self, context) -> None:
        self.recommender = Recommender.load(context.artifacts["beyonder"])
        self.default_target = context.model_config.get("target", "class") if context.model_config else "class"

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        target = (params or {}).get("target") or self.default_target
        return self.recommender.predict(pd.DataFrame(model_input), target)


mlflow.models.set_model(BeyonderModel())
