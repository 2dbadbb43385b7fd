"""Serving: recommendations for a user's own table from a saved or registered model.

``recommend`` loads a model (a folder, an MLflow URI or the registry's champion), reads and
cleans the user's table as training did, and ranks the portfolio with the NumPy forward pass
(no TensorFlow); ``pyfunc`` is the same as an MLflow model and ``tracking`` logs it;
``finetune`` adapts a registered model to the user's own labels and registers the result.
"""
