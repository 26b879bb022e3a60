"""kubetwin's client machinery — what client-go is, for every component (scheduler, controllers,
kubelet, kube-proxy): the typed client over the bus, rate limiters, the informer cache and its
indexes, shared informers, the work queue, leader election and the event recorder.

Components talk to the API only through this package. An actor owning a ``Client`` routes the
apiserver's ``WatchEvent`` tells and ``runtime.Down`` notices to it: inherit
``ClientActorMixin`` (``class Scheduler(ClientActorMixin, Actor)``), or call
``dispatch(self, msg)`` from your own handlers. Everything waits in the loop's time, so the
whole machinery runs in virtual time under ``runtime.Simulation``.
"""

from ._events import EventCorrelator, EventRecorder, EventRecorderStats, object_reference
from ._informer import (
    Backoff,
    HandlerRegistration,
    InformerStats,
    SharedInformer,
    SharedInformerFactory,
)
from ._leaderelection import (
    LEADER_ANNOTATION,
    AnnotationLock,
    ConfigMapLock,
    EndpointsLock,
    LeaderElectionRecord,
    LeaderElectionStats,
    LeaderElector,
    LeaseLock,
    LockNotInitialized,
    ResourceLock,
    format_micro_time,
    format_time,
    new_identity,
    new_lock,
    parse_time,
)
from ._ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)
from ._rest import Client, ClientActorMixin, ClientStats, TransportError, WatchStream, dispatch
from ._store import (
    LABEL_INDEX,
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    OWNER_UID_INDEX,
    STANDARD_INDEXERS,
    DeletedFinalStateUnknown,
    Indexer,
    IndexFunc,
    Store,
    index_by_label,
    index_by_namespace,
    index_by_node_name,
    index_by_owner_uid,
    meta_namespace_key,
    split_key,
)
from ._workqueue import QueueEmpty, QueueShutDown, QueueStats, RateLimitingQueue, Result

__all__ = [
    "LABEL_INDEX",
    "LEADER_ANNOTATION",
    "NAMESPACE_INDEX",
    "NODE_NAME_INDEX",
    "OWNER_UID_INDEX",
    "STANDARD_INDEXERS",
    "AnnotationLock",
    "Backoff",
    "BucketRateLimiter",
    "Client",
    "ClientActorMixin",
    "ClientStats",
    "ConfigMapLock",
    "DeletedFinalStateUnknown",
    "EndpointsLock",
    "EventCorrelator",
    "EventRecorder",
    "EventRecorderStats",
    "HandlerRegistration",
    "IndexFunc",
    "Indexer",
    "InformerStats",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "LeaderElectionRecord",
    "LeaderElectionStats",
    "LeaderElector",
    "LeaseLock",
    "LockNotInitialized",
    "MaxOfRateLimiter",
    "QueueEmpty",
    "QueueShutDown",
    "QueueStats",
    "RateLimiter",
    "RateLimitingQueue",
    "ResourceLock",
    "Result",
    "SharedInformer",
    "SharedInformerFactory",
    "Store",
    "TokenBucket",
    "TransportError",
    "WatchStream",
    "default_controller_rate_limiter",
    "dispatch",
    "format_micro_time",
    "format_time",
    "index_by_label",
    "index_by_namespace",
    "index_by_node_name",
    "index_by_owner_uid",
    "meta_namespace_key",
    "new_identity",
    "new_lock",
    "object_reference",
    "parse_time",
    "split_key",
]
