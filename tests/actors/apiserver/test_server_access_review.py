"""SelfSubjectAccessReview: ``kubectl auth can-i`` answered by the RBAC authorizer."""

from actors import ClusterSpec, simulate

SPEC = ClusterSpec(etcd_members=1, apiservers=1, schedulers=0, controller_managers=0, nodes=[],
                   users={"bob": []})


def _review(verb, resource, namespace="default"):
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb,
                                            "resource": resource}}}


def test_can_i_follows_rbac_for_each_user():
    with simulate(SPEC, seed=1) as c:
        assert c.create(_review("list", "pods"))["status"]["allowed"] is True
        bob = c.as_user("bob")
        assert bob.create(_review("list", "pods"))["status"]["allowed"] is False
        c.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "bob-view", "namespace": "default"},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "view"},
                  "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                "name": "bob"}]})
        c.advance(1)
        assert bob.create(_review("list", "pods"))["status"]["allowed"] is True
        assert bob.create(_review("list", "secrets"))["status"]["allowed"] is False
        assert bob.create(_review("list", "pods", "kube-system"))["status"]["allowed"] is False
