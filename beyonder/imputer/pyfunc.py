"""The registered imputer as an MLflow model (logged as code: loading it unpickles nothing).

Input: a table as a DataFrame; output: the same table with its missing cells filled. The
``target`` param names a column that is not read (and not filled). Unusable input raises
``MlflowException`` with ``INVALID_PARAMETER_VALUE`` (HTTP 400 from ``mlflow models serve``).
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from beyonder.imputer.api import ARTIFACT, ImputeError, impute
from beyonder.imputer.imputation import CellImputer


class BeyonderImputerModel(PythonModel):
    def load_context(self, context) -> None:
        self.imputer = CellImputer.load(context.artifacts[ARTIFACT])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        target = (params or {}).get("target") or None
        try:
            return impute(pd.DataFrame(model_input), target=target, model=self.imputer)
        except ImputeError as exc:
            raise MlflowException(
                f"beyonder-imputer: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from None


mlflow.models.set_model(BeyonderImputerModel())
