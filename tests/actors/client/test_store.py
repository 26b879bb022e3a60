"""The informer cache: keys, standard and custom indexes, replace, tombstones, immutability."""

import pytest

from actors.client import (
    LABEL_INDEX,
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    OWNER_UID_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    meta_namespace_key,
    split_key,
)
from runtime import InvariantViolation
from tests.actors.client._harness import pod


def names(objs):
    return [o["metadata"]["name"] for o in objs]


def test_keys_are_namespace_slash_name_or_name():
    assert meta_namespace_key(pod("a", "ns1")) == "ns1/a"
    assert meta_namespace_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert meta_namespace_key(DeletedFinalStateUnknown("ns/x", {})) == "ns/x"
    assert split_key("ns/x") == ("ns", "x")
    assert split_key("node-1") == (None, "node-1")
    with pytest.raises(ValueError):
        meta_namespace_key({"metadata": {}})


def test_standard_indexes_follow_adds_updates_and_deletes():
    s = Indexer()
    s.add(pod("a", "ns1", labels={"app": "web"}, node="n1", owner_uid="u1"))
    s.add(pod("b", "ns1", labels={"app": "db"}, node="n2"))
    s.add(pod("c", "ns2", labels={"app": "web"}))
    s.add({"metadata": {"name": "node-1"}})
    assert names(s.by_index(NAMESPACE_INDEX, "ns1")) == ["a", "b"]
    assert names(s.by_index(NAMESPACE_INDEX, "")) == ["node-1"]  # cluster-scoped
    assert names(s.by_index(NODE_NAME_INDEX, "n1")) == ["a"]
    assert names(s.by_index(OWNER_UID_INDEX, "u1")) == ["a"]
    assert names(s.by_index(LABEL_INDEX, "app=web")) == ["a", "c"]
    # An update moves the object between index values.
    s.update(pod("a", "ns1", labels={"app": "db"}, node="n2"))
    assert names(s.by_index(LABEL_INDEX, "app=web")) == ["c"]
    assert names(s.by_index(LABEL_INDEX, "app=db")) == ["b", "a"]
    assert names(s.by_index(NODE_NAME_INDEX, "n2")) == ["b", "a"]
    assert s.by_index(NODE_NAME_INDEX, "n1") == []
    assert s.by_index(OWNER_UID_INDEX, "u1") == []
    assert "n1" not in s.list_index_values(NODE_NAME_INDEX)  # empty buckets vanish
    s.delete(pod("b", "ns1"))
    assert names(s.by_index(NAMESPACE_INDEX, "ns1")) == ["a"]
    assert s.index_keys(LABEL_INDEX, "app=db") == ["ns1/a"]
    s.delete(DeletedFinalStateUnknown("ns1/a", {}))
    assert s.by_index(NAMESPACE_INDEX, "ns1") == []
    assert len(s) == 2


def test_owner_index_only_counts_the_controller_reference():
    s = Indexer()
    p = pod("a")
    p["metadata"]["ownerReferences"] = [{"uid": "not-controller", "kind": "X", "name": "x"}]
    s.add(p)
    assert s.list_index_values(OWNER_UID_INDEX) == []


def test_replace_swaps_contents_and_reindexes():
    s = Indexer()
    s.add(pod("old", labels={"app": "x"}))
    s.replace([pod("n1", labels={"app": "y"}), pod("n2")], "42")
    assert s.list_keys() == ["default/n1", "default/n2"]
    assert s.by_index(LABEL_INDEX, "app=x") == []
    assert names(s.by_index(LABEL_INDEX, "app=y")) == ["n1"]
    assert s.resource_version == "42"
    assert s.get_by_key("default/old") is None
    assert s.get(pod("n2"))["metadata"]["name"] == "n2"


def test_user_defined_indexers_index_existing_and_new_objects():
    s = Indexer({})
    s.add(pod("a", labels={"tier": "front"}))
    s.add_indexers({"tier": lambda o: [o["metadata"].get("labels", {}).get("tier", "none")]})
    s.add(pod("b"))
    assert names(s.by_index("tier", "front")) == ["a"]
    assert names(s.by_index("tier", "none")) == ["b"]
    with pytest.raises(KeyError):
        s.by_index(NAMESPACE_INDEX, "default")  # no standard indexes were asked for
    with pytest.raises(ValueError):
        s.add_indexers({"tier": lambda o: []})


def test_store_never_mutates_and_detects_mutation_by_others():
    s = Indexer()
    p = pod("a", labels={"app": "web"})
    s.add(p)
    s.detect_mutations()
    s.update(pod("b"))
    s.check_unmutated()
    assert s.get_by_key("default/a") is p  # the same object, shared, never copied or changed
    s.get_by_key("default/a")["metadata"]["labels"]["app"] = "evil"
    with pytest.raises(InvariantViolation, match="default/a"):
        s.check_unmutated()


def test_mutation_is_caught_when_the_mutated_object_is_replaced_or_deleted():
    for replace in (lambda s: s.update(pod("a", labels={"app": "v2"})),
                    lambda s: s.delete("default/a"),
                    lambda s: s.replace([pod("a")])):
        s = Indexer()
        s.detect_mutations()
        s.add(pod("a", labels={"app": "web"}))
        s.get_by_key("default/a")["metadata"]["labels"]["app"] = "evil"
        with pytest.raises(InvariantViolation, match="default/a"):
            replace(s)


def test_informers_detect_mutations_when_the_environment_asks(monkeypatch):
    from actors.client._store import mutation_detector_enabled
    monkeypatch.setenv("KUBE_CACHE_MUTATION_DETECTOR", "false")
    assert not mutation_detector_enabled()
    monkeypatch.setenv("KUBE_CACHE_MUTATION_DETECTOR", "true")
    assert mutation_detector_enabled()
