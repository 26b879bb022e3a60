"""The package's public surface, pinned (a change here is an API change: update users too)."""

import actors.client as client

EXPECTED = [
    "LABEL_INDEX", "LEADER_ANNOTATION", "NAMESPACE_INDEX", "NODE_NAME_INDEX", "OWNER_UID_INDEX",
    "STANDARD_INDEXERS", "AnnotationLock", "Backoff", "BucketRateLimiter", "Client",
    "ClientActorMixin", "ClientStats", "ConfigMapLock", "DeletedFinalStateUnknown",
    "EndpointsLock", "EventCorrelator", "EventRecorder", "EventRecorderStats",
    "HandlerRegistration", "IndexFunc", "Indexer", "InformerStats",
    "ItemExponentialFailureRateLimiter", "ItemFastSlowRateLimiter", "LeaderElectionRecord",
    "LeaderElectionStats", "LeaderElector", "LeaseLock", "LockNotInitialized",
    "MaxOfRateLimiter", "QueueEmpty", "QueueShutDown", "QueueStats", "RateLimiter",
    "RateLimitingQueue", "Reflector", "ReflectorStore", "ResourceLock", "Result",
    "SharedInformer", "SharedInformerFactory", "Store", "TokenBucket", "TransportError",
    "WatchStream", "default_controller_rate_limiter", "dispatch", "format_micro_time",
    "format_time", "index_by_label", "index_by_namespace", "index_by_node_name",
    "index_by_owner_uid", "meta_namespace_key", "new_identity", "new_lock", "object_reference",
    "parse_time", "split_key",
]


def test_public_names_are_exactly_these():
    assert sorted(client.__all__) == sorted(EXPECTED)
    for name in client.__all__:
        assert getattr(client, name) is not None, name


def test_library_code_never_imports_the_test_double():
    import pathlib

    for path in pathlib.Path(client.__file__).parent.glob("*.py"):
        assert "tests." not in path.read_text(), path
