"""The optional C extension; everything else is in pyproject.toml."""

from setuptools import Extension, setup

# optional: without a C compiler the install goes on and ingest.minhash runs its
# pure-Python tokenizer, which is also the reference the compiled one is tested against
setup(ext_modules=[Extension("ingest._speedups", ["ingest/_speedups.c"], optional=True)])
