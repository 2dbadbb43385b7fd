"""Names shared by every stage: reserved columns and the default portfolio."""

TARGET = "__target__"
"""Column that holds the class label (as strings) from ingest onwards."""

ROW_ID = "__row_id__"
"""Column that holds the source row id of each bootstrap row (sample stage onwards)."""

RESERVED = (TARGET, ROW_ID)

PORTFOLIO = (
    "logreg",
    "gaussian_nb",
    "knn",
    "decision_tree",
    "random_forest",
    "extra_trees",
    "hist_gb",
    "svm_linear",
    "svm_rbf",
    "svm_poly",
)
"""Default classifier portfolio, in the order used by outputs and the model's head."""

SVM_KERNELS = ("svm_linear", "svm_rbf", "svm_poly")
