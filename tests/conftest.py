"""Hypothesis profiles for the test suite: "ci" (derandomized, reproducible) when ``CI`` is set, else "dev"."""

import os

from hypothesis import settings

# Timings on shared 2-core machines are noisy, so neither profile has a deadline.
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=30, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
