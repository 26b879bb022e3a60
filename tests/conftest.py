"""Suite-wide settings.

Every informer in every test runs with client-go's cache mutation detector on (as
Kubernetes' own integration tests run): a component that changes an object it read from an
informer, which every other reader of that cache shares, stops the simulation with an
``InvariantViolation``. ``KUBE_CACHE_MUTATION_DETECTOR=false`` turns it off.

Hypothesis runs derandomized (the same examples on every run, no example database), so the
suite is deterministic; ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples instead,
to search for new failures (a failure prints the example and how to reproduce it).
"""

import os

from hypothesis import settings

os.environ.setdefault("KUBE_CACHE_MUTATION_DETECTOR", "true")

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
