"""`python -m benchmarks`: run the suite (see `benchmarks.suite`; ``--help`` for the options)."""

import sys

from .harness import set_thread_variables, threads_option

# --threads must reach OpenBLAS before NumPy loads it: applied here, ahead of every import of NumPy.
if threads_option(sys.argv[1:]) is not None:
    set_thread_variables(threads_option(sys.argv[1:]))

from .suite import main  # noqa: E402  (after the thread variables)

sys.exit(main())
