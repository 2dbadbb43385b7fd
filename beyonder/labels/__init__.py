"""Labels: how well each classifier of the portfolio scores on a sample, measured by CV.

``portfolio`` builds the classifiers (and their regularisation grid) from their names;
``folds`` draws group-aware stratified folds (bootstrap copies of one source row stay in one
fold); ``labelling`` cross-validates one sample with every classifier and records accuracy,
spread and fit seconds, or the reason a label is missing; ``summary`` reads a label matrix
(the single best classifier). The pipeline's label stage and ``recommend --verify`` both
measure through this one engine.
"""
