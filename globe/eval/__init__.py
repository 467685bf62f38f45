"""Evaluation against any OpenAI-compatible server: ground truth, async run, metrics, reports.

``globe-eval`` (:mod:`globe.eval.cli`) runs it; ``globe-infer`` (:mod:`globe.eval.infer`) asks
about one image. The pieces are importable alone: :mod:`~globe.eval.metrics` is pure functions,
:mod:`~globe.eval.data` reads ground truth, :mod:`~globe.eval.runner` sends requests and writes
rows, :mod:`~globe.eval.consensus` ranks several sampled answers' places by votes,
:mod:`~globe.eval.score` rescores a CSV, :mod:`~globe.eval.report` writes JSON and plots.
"""
