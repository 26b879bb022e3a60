"""Suite-wide settings.

Every informer in every test runs with client-go's cache mutation detector on (as
Kubernetes' own integration tests run): a component that changes an object it read from an
informer, which every other reader of that cache shares, stops the simulation with an
``InvariantViolation``. ``KUBE_CACHE_MUTATION_DETECTOR=false`` turns it off.
"""

import os

os.environ.setdefault("KUBE_CACHE_MUTATION_DETECTOR", "true")
