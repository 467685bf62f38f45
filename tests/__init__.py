"""GLOBE's tests; a package so that ``tests.support`` (fakes, generated images) imports from a checkout."""
