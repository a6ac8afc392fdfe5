"""Evaluation harness behind ``lureguard eval`` (needs the ``eval`` extra: scikit-learn, matplotlib)."""
