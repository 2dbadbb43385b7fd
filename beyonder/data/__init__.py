"""Datasets, from the files users have to the samples the portfolio is scored on.

``sources/`` reads raw tables (local CSV, ARFF and Parquet folders, scikit-learn's sets, OpenML,
a synthetic generator) into ``datasets.RawDataset``; ``cleaning`` types them and drops what no
classifier can use, reporting every step; ``sampling`` draws the stratified bootstrap samples
that get labelled; ``noise`` and ``derived`` make augmented copies and new tasks from real ones;
``splits`` keeps families of near-duplicate datasets on one side of every split. Nothing here
knows about classifiers or networks.
"""
