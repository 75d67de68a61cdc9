"""Kept for `python setup.py develop` and older pips; metadata lives in pyproject.toml."""

from setuptools import setup

setup()
