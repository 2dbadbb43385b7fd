"""The imputer: a second network, on the selector's attention blocks, that fills missing cells.

``imputation`` holds the tables, random views and masks, the network and its training;
``api`` is what users call (``beyonder.impute``, the scikit-learn ``BeyonderImputer``, loading
the registered model); ``scores`` compares it with mean and KNN imputation on held-out
tables; ``pyfunc`` and ``tracking`` log and serve it through MLflow.
"""
