"""``kubetwin demo``'s network sections: a second node, pod-to-pod traffic, a Service.

- ``node_add``: ``minikube node add`` — ``Cluster.add_node(NodeSpec("minikube-m02"))``
  starts the node's kubelet and kube-proxy; the section waits for the Node to be Ready and
  prints ``kubectl get nodes -o wide``.
- ``kubia``: two kubia replicas; when the scheduler spread them over both nodes, a request
  from the pod on one node to the pod on the other through the simulated CNI network: the
  reply (its ``Client address`` is the sender pod's own IP: no NAT), the server's log, and the
  packet's path hop by hop in the seed's form.
- ``service``: ``kubectl expose``; a request to the Service's ClusterIP and one to its DNS
  name (resolved by CoreDNS through kube-dns's ClusterIP), with kube-proxy's DNAT in the path.

Concurrency model: synchronous driver code (``Session``).

Invariants: every address, name and hop printed comes from the cluster's objects or from the
request's own record; when a precondition is not met (the pods share a node, no endpoint
yet) the section says so instead of printing what would have happened.
"""

from __future__ import annotations

from typing import Any

from actors.api import ApiError
from actors.cluster import NodeSpec
from actors.kubelet import RequestFailed

from ._demo_control import _create_deployment
from ._demo_print import table_lines
from ._demo_session import Session, kubectl_service

__all__ = ["kubia", "node_add", "service"]

Obj = dict[str, Any]
NEW_NODE = "minikube-m02"


def _ready(node: Obj | None) -> bool:
    conds = ((node or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def node_add(s: Session) -> None:
    s.out.title("A second node")
    c = s.cluster
    s.out.prompt("minikube node add")
    s.out.line(f"* Adding node m02 to cluster {c.spec.nodes[0].name}")
    c.add_node(NodeSpec(NEW_NODE))
    if not s.wait(lambda cl: _ready(cl.get("nodes", NEW_NODE, None)), 120, poll=0.5):
        s.gone(f"node {NEW_NODE} Ready", 120)
    else:
        s.out.line(f"* Successfully added m02 to {c.spec.nodes[0].name}!")
    s.out.prompt("kubectl get nodes -o wide")
    s.out.lines_of(table_lines("nodes", c.list("nodes")["items"], s.wall(), wide=True))


def _body(reply: bytes) -> list[str]:
    """What ``curl -s`` prints: the body of the HTTP response."""
    _, _, body = reply.partition(b"\r\n\r\n")
    return body.decode(errors="replace").splitlines()


def _curl(s: Session, pod: str, target: str, url: str) -> Any:
    s.out.prompt(f"kubectl exec {pod} -- curl -s {url}")
    try:
        r = s.cluster.request(from_pod=("default", pod), to=target)
    except RequestFailed as e:
        s.out.line(f"curl: request failed: {e.reason}")
        if e.path_str:
            s.out.note(f"path until it was dropped: {e.path_str}")
        return None
    s.out.lines_of(_body(r.reply))
    return r


def kubia(s: Session) -> None:
    s.out.title("Pod networking: pod to pod across nodes, without NAT")
    if not _create_deployment(s, "kubia", "luksa/kubia", replicas=2):
        return
    if not s.wait(lambda cl: s.running("default", "app=kubia", count=2), 120, poll=0.5):
        s.gone("two kubia pods Running", 120)
    pods = s.pods("default", "app=kubia")
    s.out.prompt("kubectl get pods -l app=kubia -o wide")
    s.out.lines_of(table_lines("pods", pods, s.wall(), wide=True))
    placed = [p for p in pods if (p.get("status") or {}).get("podIP")]
    by_node = {p["spec"].get("nodeName"): p for p in placed}
    if len(placed) < 2:
        s.out.note("fewer than two kubia pods have an IP: no pod-to-pod request to show")
        return
    if len(by_node) < 2:
        s.out.note(f"the scheduler put both kubia pods on {next(iter(by_node))}: the request "
                   "below stays on one node")
        a, b = placed[0], placed[1]
    else:
        a, b = by_node[s.cluster.spec.nodes[0].name], by_node[NEW_NODE]
    a_name, b_name = a["metadata"]["name"], b["metadata"]["name"]
    a_ip, b_ip = a["status"]["podIP"], b["status"]["podIP"]
    s.facts["kubia"] = (a_name, b_name)
    r = _curl(s, a_name, f"{b_ip}:8080", f"http://{b_ip}:8080")
    if r is None:
        return
    s.out.prompt(f"kubectl logs {b_name} | tail -1")
    s.out.line(s.cluster.logs(b_name).splitlines()[-1])
    seen = {h.src for h in r.path}
    s.out.note(f"{b_name} saw the request come from {', '.join(sorted(seen))}: "
               + ("the sender pod's own IP, no NAT on the way" if seen == {a_ip}
                  else f"not {a_name}'s IP {a_ip}: rewritten on the way"))
    s.out.note("the packet's path (a veth pair per pod, the node's cni0 bridge as gateway, "
               "the nodes' adapters):")
    s.out.line(r.path_str)
    s.out.note("and the reply's:")
    s.out.line(r.return_path_str)


def _endpoints_ready(s: Session, name: str, count: int) -> bool:
    ep = s.get_or_none("endpoints", name)
    addrs = [a for sub in (ep or {}).get("subsets") or [] for a in sub.get("addresses") or []]
    return len(addrs) >= count


def _proxied(s: Session, node: str, vip: str, count: int) -> bool:
    """kube-proxy on ``node`` has programmed the Service with ``count`` backends (inspection
    of the rules of its last sync)."""
    proxy = s.cluster.sim.actor(f"kube-proxy/{node}")
    return any(getattr(rule, "vip", None) == vip and len(getattr(rule, "backends", ())) >= count
               for rule in getattr(proxy, "rules", ()))


def _dnat_hop(path: Any) -> Any:
    return next((h for h in path if "DNAT" in h.note), None)


def _dnat(r: Any) -> str:
    hop = _dnat_hop(r.path)
    return f"{hop.note} at {hop.device} ({hop.node})" if hop is not None else "no DNAT seen"


def _dns_server(s: Session, r: Any) -> str:
    """Which coredns pod answered the last lookup, from the query's own delivery."""
    delivery = r.dns[-1].delivery if r.dns else None
    hop = _dnat_hop(delivery.path) if delivery is not None else None
    dst = getattr(getattr(delivery, "packet_at_destination", None), "dst_ip", None)
    pod = next((p["metadata"]["name"] for p in s.pods("kube-system")
                if (p.get("status") or {}).get("podIP") == str(dst)), str(dst))
    return f"{hop.note}: {pod}" if hop is not None else f"answered by {pod}"


def _client(s: Session) -> str | None:
    """The pod the Service requests come from: nginx's (not a kubia backend, so no hairpin
    masquerade hides its address), else the first kubia pod."""
    nginx = [p for p in s.pods("default", "app=nginx") if (p.get("status") or {}).get("podIP")]
    if nginx:
        return str(nginx[0]["metadata"]["name"])
    pair = s.facts.get("kubia")
    return pair[0] if pair else None


def _requests(s: Session, client: str, vip: str, n: int) -> list[Any]:
    s.out.prompt(f"kubectl exec {client} -- sh -c 'for i in $(seq {n}); do curl -s "
                 f"http://{vip}; done'")
    replies = []
    for _ in range(n):
        try:
            r = s.cluster.request(from_pod=("default", client), to=f"{vip}:80")
        except RequestFailed as e:
            s.out.line(f"curl: request failed: {e.reason}")
            continue
        s.out.lines_of(_body(r.reply))
        replies.append(r)
    return replies


def service(s: Session) -> None:
    s.out.title("Services: kube-proxy makes a ClusterIP reach one of the pods")
    client = _client(s)
    if client is None or s.get_or_none("deployments", "kubia") is None:
        s.out.note("no kubia pods to expose (see above)")
        return
    s.out.prompt("kubectl expose deployment kubia --port=80 --target-port=8080")
    try:
        s.cluster.create(kubectl_service(s.cluster.get("deployments", "kubia"), 80, 8080))
    except ApiError as e:
        s.out.line(f"Error from server ({e.reason}): {e.message}")
        return
    s.out.line("service/kubia exposed")
    vip = s.cluster.get("services", "kubia")["spec"]["clusterIP"]
    pod = s.cluster.get("pods", client)
    node = pod["spec"]["nodeName"]
    if not s.wait(lambda cl: _endpoints_ready(s, "kubia", 2) and _proxied(s, node, vip, 2),
                  60):
        s.gone("kubia's endpoints programmed by kube-proxy", 60)
    s.out.prompt("kubectl get service kubia")
    s.out.lines_of(table_lines("services", [s.cluster.get("services", "kubia")], s.wall()))
    s.out.prompt("kubectl get endpoints kubia")
    s.out.lines_of(table_lines("endpoints", [s.cluster.get("endpoints", "kubia")], s.wall()))
    s.out.note(f"from {client} (on {node}, IP {pod['status']['podIP']}), four requests to "
               "the ClusterIP; kube-proxy picks a backend for each:")
    replies = _requests(s, client, vip, 4)
    if replies:
        crossing = [r for r in replies if len({h.node for h in r.path}) > 1]
        r = (crossing or replies)[0]
        s.out.note(f"one of them: {_dnat(r)}, the source left as it was; its path:")
        s.out.line(r.path_str)
    name = "kubia.default.svc.cluster.local"
    r = _curl(s, client, f"{name}:80", f"http://{name}")
    if r is None:
        return
    s.out.note(f"the name went to kube-dns ({_dns_server(s, r)}), the pod's search list "
               "first (ndots:5):")
    for lk in r.dns:
        answer = ", ".join(lk.addresses) or {3: "NXDOMAIN"}.get(lk.rcode or 0, f"rcode {lk.rcode}")
        s.out.line(f"  {lk.name} → {answer}")
    s.out.note(f"then to {r.address}:80: {_dnat(r)}; the path:")
    s.out.line(r.path_str)
