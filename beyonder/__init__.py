"""Beyonder: predict how well each classifier of a portfolio scores on a dataset."""

__version__ = "0.1.0"
