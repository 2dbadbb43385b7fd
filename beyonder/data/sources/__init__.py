"""Where raw datasets come from: local folders, scikit-learn, OpenML, a synthetic generator."""
