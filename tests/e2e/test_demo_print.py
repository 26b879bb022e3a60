"""The demo's kubectl formats, as pure functions: tabwriter widths, custom columns, -o yaml."""

from actors.cli._demo_print import TabWriter, custom_columns, table_lines, to_yaml


def test_tabwriter_pads_like_kubectl_and_remembers_widths_across_flushes():
    tw = TabWriter()
    assert tw.format([["NAME", "READY", "STATUS"], ["web-1", "0/1", "Pending"]]) == [
        "NAME    READY   STATUS", "web-1   0/1     Pending"]
    # a later flush (a watch event): columns never shrink, a longer cell widens its column
    assert tw.format([["web-1", "0/1", "ContainerCreating"]]) == [
        "web-1   0/1     ContainerCreating"]
    assert tw.format([["a-much-longer-name", "1/1", "Running"]]) == [
        "a-much-longer-name   1/1     Running"]
    assert tw.format([["x", "", ""]]) == ["x"]  # minwidth 6, trailing blanks dropped


def test_custom_columns_follow_paths_with_indexes_and_escaped_dots():
    pods = [{"metadata": {"name": "etcd-minikube",
                          "annotations": {"kubernetes.io/config.mirror": "abc"},
                          "ownerReferences": [{"kind": "Node"}]}},
            {"metadata": {"name": "storage-provisioner"}}]
    spec = ("POD:metadata.name,OWNER:metadata.ownerReferences[0].kind,"
            "MIRROR:metadata.annotations.kubernetes\\.io/config\\.mirror")
    assert custom_columns(spec, pods) == [
        "POD                   OWNER    MIRROR",
        "etcd-minikube         Node     abc",
        "storage-provisioner   <none>   <none>"]


def test_yaml_quotes_as_kubectl_does():
    obj = {"kind": "Endpoints", "apiVersion": "v1",
           "metadata": {"name": "kube-scheduler", "resourceVersion": "24246334",
                        "creationTimestamp": "2019-08-23T09:37:46Z",
                        "annotations": {"control-plane.alpha.kubernetes.io/leader":
                                        '{"holderIdentity":"mes2_b6640f77","leaderTransitions":3}'},
                        "labels": {}},
           "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
           "flag": True, "empty": ""}
    assert to_yaml(obj) == [
        "apiVersion: v1",
        'empty: ""',
        "flag: true",
        "kind: Endpoints",
        "metadata:",
        "  annotations:",
        "    control-plane.alpha.kubernetes.io/leader: "
        "'{\"holderIdentity\":\"mes2_b6640f77\",\"leaderTransitions\":3}'",
        '  creationTimestamp: "2019-08-23T09:37:46Z"',
        "  labels: {}",
        "  name: kube-scheduler",
        '  resourceVersion: "24246334"',
        "subsets:",
        "- addresses:",
        "  - ip: 10.0.0.1",
        "  ports:",
        "  - port: 80",
    ]


def test_table_lines_use_the_server_side_columns():
    cs = [{"metadata": {"name": "scheduler"},
           "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}]
    assert table_lines("componentstatuses", cs, 0.0) == [
        "NAME        STATUS    MESSAGE   ERROR", "scheduler   Healthy   ok"]
