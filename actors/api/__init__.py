"""kubetwin's Kubernetes API object model: typed objects, the resource registry,
defaulting, validation, Status errors and JSON conversion.

Pure code: no clock, no randomness, no I/O, no runtime imports. Objects are frozen
msgspec Structs with Kubernetes' JSON field names; decoding drops unknown fields as the
apiserver does by default, and ``unknown_fields`` reports them for fieldValidation
Strict/Warn. The public surface is pinned by ``tests/actors/api/test_types.py``.
"""

from ._apps import *  # noqa: F403
from ._apps import __all__ as _apps_all
from ._batch import *  # noqa: F403
from ._batch import __all__ as _batch_all
from ._coordination import *  # noqa: F403
from ._coordination import __all__ as _coordination_all
from ._core_other import *  # noqa: F403
from ._core_other import __all__ as _core_other_all
from ._core_pod import *  # noqa: F403
from ._core_pod import __all__ as _core_pod_all
from ._defaults import *  # noqa: F403
from ._defaults import __all__ as _defaults_all
from ._discovery import *  # noqa: F403
from ._discovery import __all__ as _discovery_all
from ._fields import *  # noqa: F403
from ._fields import __all__ as _fields_all
from ._labels import *  # noqa: F403
from ._labels import __all__ as _labels_all
from ._meta import *  # noqa: F403
from ._meta import __all__ as _meta_all
from ._names import *  # noqa: F403
from ._names import __all__ as _names_all
from ._quantity import *  # noqa: F403
from ._quantity import __all__ as _quantity_all
from ._rbac import *  # noqa: F403
from ._rbac import __all__ as _rbac_all
from ._registry import *  # noqa: F403
from ._registry import __all__ as _registry_all
from ._status import *  # noqa: F403
from ._status import __all__ as _status_all
from ._storage import *  # noqa: F403
from ._storage import __all__ as _storage_all
from ._validation import *  # noqa: F403
from ._validation import __all__ as _validation_all
from ._validation_pod import *  # noqa: F403
from ._validation_pod import __all__ as _validation_pod_all
from ._validation_workloads import *  # noqa: F403
from ._validation_workloads import __all__ as _validation_workloads_all

__all__ = sorted({
    *_apps_all, *_batch_all, *_coordination_all, *_core_other_all, *_core_pod_all,
    *_defaults_all, *_discovery_all, *_fields_all, *_labels_all, *_meta_all, *_names_all,
    *_quantity_all, *_rbac_all,
    *_registry_all, *_status_all, *_storage_all, *_validation_all, *_validation_pod_all,
    *_validation_workloads_all,
})
