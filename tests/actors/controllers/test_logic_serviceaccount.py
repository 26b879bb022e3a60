"""ServiceAccount controller and the kube-root-ca.crt publisher."""

from __future__ import annotations

from actors.controllers import (
    Create,
    Update,
    reconcile_root_ca_configmap,
    reconcile_service_accounts,
)

NOW = 1_700_000_000.0


def ns(name: str = "team", phase: str = "Active") -> dict:
    return {"metadata": {"name": name}, "status": {"phase": phase}}


def test_default_service_account_is_created_in_active_namespaces():
    plan = reconcile_service_accounts(ns(), [], now=NOW)
    create = plan.actions[0]
    assert isinstance(create, Create)
    assert create.body == {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "default", "namespace": "team"}}
    existing = {"metadata": {"name": "default", "namespace": "team"}}
    assert not reconcile_service_accounts(ns(), [existing], now=NOW).actions
    assert not reconcile_service_accounts(ns(phase="Terminating"), [], now=NOW).actions


def test_root_ca_configmap():
    plan = reconcile_root_ca_configmap(ns(), [], ca_crt="PEM", now=NOW)
    body = plan.actions[0].body
    assert body["metadata"]["name"] == "kube-root-ca.crt" and body["data"] == {"ca.crt": "PEM"}
    plan = reconcile_root_ca_configmap(ns(), [body], ca_crt="PEM2", now=NOW)
    assert isinstance(plan.actions[0], Update) and plan.actions[0].body["data"] == {"ca.crt": "PEM2"}
    assert not reconcile_root_ca_configmap(ns(), [body], ca_crt="PEM", now=NOW).actions
