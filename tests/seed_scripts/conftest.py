"""Keep pytest from importing the seed's scripts: `--doctest-modules` would run them (training included) at collection.

`tests/test_seed_scripts.py` runs them in subprocesses instead.
"""

collect_ignore_glob = ["*.py"]
