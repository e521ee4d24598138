# setuptools hook for the cffi extension (everything else is in pyproject.toml).
from setuptools import setup

setup(cffi_modules=["host/veriwatt/_vwcrypto_build.py:ffibuilder"])
