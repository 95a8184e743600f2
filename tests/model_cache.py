"""Compiled models shared by the tests of one module, built in parallel up front.

Building C dominates the test time, so a module lists the models its selected tests need and
compiles them on a few threads at the start; a build failure is stored and re-raised by each
test that uses that model.
"""
import os
from concurrent.futures import ThreadPoolExecutor


class ModelCache:
    def __init__(self, build):
        self._build = build
        self._models = {}

    def prebuild(self, keys):
        def one(key):
            try:
                self._models[key] = self._build(key)
            except Exception as e:   # noqa: BLE001 - re-raised by the tests using this model
                self._models[key] = e
        with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(one, sorted(set(keys))))

    def get(self, key):
        m = self._models.get(key)
        if m is None:
            m = self._models[key] = self._build(key)
        if isinstance(m, Exception):
            raise m
        return m

    def clear(self):
        self._models.clear()


def selected_keys(request, keys_of):
    """The model keys of the tests selected in this module."""
    return [k for item in request.session.items if item.module is request.module for k in keys_of(item)]
