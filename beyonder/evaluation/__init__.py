"""Evaluation: how much of the gap between the single best classifier and the per-dataset
best a method closes, on datasets it never saw.

``metrics`` holds the selection metrics (regret, gap closed, top-k, Spearman) and paired
bootstrap intervals; ``crossval`` runs grouped K-fold over whole corpora for Beyonder and
its baselines, with ``workspaces`` holding the labelled folders it reads; ``decisions``
scores budgets, intervals and verification; ``regularisation`` scores the suggested C;
``champion`` decides which model consumers get; ``report`` writes the evaluation's files.
"""
