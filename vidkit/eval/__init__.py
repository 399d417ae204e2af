"""Evaluation: prediction metrics, representation probes, retrieval metrics and run reports."""
