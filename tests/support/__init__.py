"""Support code for tests, benchmarks and the demo: a tiny offline VLM, fake servers, sample images.

Shipped inside the package because the demo (``make demo``) and the benchmarks use it too,
not only pytest. Nothing here is imported by the training or evaluation code paths.
"""
