"""Support code for tests and benchmarks: a loopback fake OpenAI server, generated images and photos.

It lives outside the installed package (``setup.py`` packages ``globe`` only) and is imported from a
checkout as ``tests.support``; what the app and demo need at run time is in ``globe`` itself
(``globe.tiny_model``, ``globe.swift_run``).
"""
