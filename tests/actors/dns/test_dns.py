"""Cluster DNS: the wire format, the zone CoreDNS serves, the pod's resolver, the addon."""

import random

import pytest

import actors.dns as dns
from actors import ClusterSpec, NodeSpec, simulate
from actors.dns import (
    CNAME,
    NOERROR,
    NXDOMAIN,
    SRV,
    A,
    ClusterZone,
    DnsFormatError,
    DnsQuery,
    DnsRecord,
    DnsResponse,
)

# -- wire ---------------------------------------------------------------------------------------


def test_queries_and_responses_round_trip():
    q = DnsQuery(0x1234, "web.default.svc.cluster.local", A)
    assert dns.decode_query(dns.encode_query(q)) == q
    r = DnsResponse(0x1234, q.name, A, NOERROR, (
        DnsRecord(q.name, A, 30, "10.96.0.50"),
        DnsRecord("_http._tcp.web.default.svc.cluster.local", SRV, 30,
                  "web.default.svc.cluster.local", 80, 0, 100),
        DnsRecord("alias.default.svc.cluster.local", CNAME, 30, "example.com")))
    wire = dns.encode_response(r)
    assert wire[12 + len(dns.encode_query(q)) - 12:][:2] == b"\xc0\x0c"  # name compression
    assert dns.decode_response(wire) == r
    assert dns.tcp_unframe(dns.tcp_frame(wire)) == wire


def test_malformed_messages_are_refused():
    for bad in (b"", b"\x00" * 11, dns.encode_query(DnsQuery(1, "a.b"))[:-3]):
        with pytest.raises(DnsFormatError):
            dns.decode_query(bad)
    with pytest.raises(DnsFormatError):
        dns.decode_query(dns.encode_response(DnsResponse(1, "a", A, NOERROR)))
    with pytest.raises(DnsFormatError):
        dns.tcp_unframe(b"\x00\x09abc")


# -- the zone -----------------------------------------------------------------------------------

def _svc(name, ip="10.96.0.50", ns="default", **spec):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80,
                                                 "protocol": "TCP"}], **spec}}


def _slice(svc, endpoints, name=None, ns="default"):
    return {"metadata": {"name": name or f"{svc}-1", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": endpoints}


@pytest.fixture
def zone():
    z = ClusterZone()
    z.reset({"services": [_svc("web"), _svc("db", "None"), _svc("kubernetes", "10.96.0.1"),
                          _svc("ext", "", type="ExternalName", externalName="example.com.")],
             "endpointslices": [_slice("db", [
                 {"addresses": ["10.244.0.5"], "hostname": "db-0", "conditions": {"ready": True}},
                 {"addresses": ["10.244.1.5"], "hostname": "db-1", "conditions": {"ready": True}},
                 {"addresses": ["10.244.1.6"], "hostname": "db-2",
                  "conditions": {"ready": False}}])],
             "endpoints": []})
    return z


def _a(zone, name, qtype=A):
    rcode, answers, _ = zone.resolve(name, qtype)
    return rcode, [rr.data for rr in answers]


def test_a_cluster_ip_service_answers_its_cluster_ip(zone):
    assert _a(zone, "web.default.svc.cluster.local") == (NOERROR, ["10.96.0.50"])
    assert _a(zone, "KUBERNETES.default.svc.cluster.local.") == (NOERROR, ["10.96.0.1"])
    assert _a(zone, "web.default.svc.cluster.local", dns.AAAA) == (NOERROR, [])  # IPv4 only
    assert _a(zone, "nope.default.svc.cluster.local") == (NXDOMAIN, [])
    assert _a(zone, "web.other.svc.cluster.local") == (NXDOMAIN, [])


def test_headless_services_answer_ready_pods_and_their_hostnames(zone):
    assert _a(zone, "db.default.svc.cluster.local") == (NOERROR, ["10.244.0.5", "10.244.1.5"])
    assert _a(zone, "db-1.db.default.svc.cluster.local") == (NOERROR, ["10.244.1.5"])
    assert _a(zone, "db-2.db.default.svc.cluster.local") == (NXDOMAIN, [])  # not ready


def test_srv_cname_pod_records_and_names_outside_the_cluster(zone):
    rcode, answers, _ = zone.resolve("_http._tcp.web.default.svc.cluster.local", SRV)
    assert rcode == NOERROR and (answers[0].data, answers[0].port) == (
        "web.default.svc.cluster.local", 80)
    rcode, answers, _ = zone.resolve("_http._tcp.db.default.svc.cluster.local", SRV)
    assert [a.data for a in answers] == ["db-0.db.default.svc.cluster.local",
                                         "db-1.db.default.svc.cluster.local"]
    rcode, answers, _ = zone.resolve("ext.default.svc.cluster.local", A)
    assert (answers[0].rtype, answers[0].data) == (CNAME, "example.com")
    assert _a(zone, "10-244-0-5.default.pod.cluster.local") == (NOERROR, ["10.244.0.5"])
    assert zone.resolve("example.com", A) == (NXDOMAIN, (), False)  # no upstream


def test_endpoints_are_the_fallback_and_deletions_are_followed():
    z = ClusterZone()
    z.upsert("services", _svc("h", "None"))
    z.upsert("endpoints", {"metadata": {"name": "h", "namespace": "default"},
                           "subsets": [{"addresses": [{"ip": "10.244.0.9"}],
                                        "notReadyAddresses": [{"ip": "10.244.0.10"}]}]})
    assert _a(z, "h.default.svc.cluster.local") == (NOERROR, ["10.244.0.9"])
    z.upsert("endpointslices", _slice("h", [{"addresses": ["10.244.3.3"]}]))
    assert _a(z, "h.default.svc.cluster.local") == (NOERROR, ["10.244.3.3"])  # nil ready: ready
    z.remove("endpointslices", ("default", "h-1"))
    z.remove("services", ("default", "h"))
    assert _a(z, "h.default.svc.cluster.local") == (NXDOMAIN, [])


def test_the_server_answers_udp_and_tcp_messages(zone):
    q = dns.encode_query(DnsQuery(7, "web.default.svc.cluster.local"))
    r = dns.decode_response(zone.answer(q))
    assert (r.id, r.rcode, r.answers[0].data, r.answers[0].ttl) == (7, NOERROR, "10.96.0.50", 30)
    framed = zone.answer(dns.tcp_frame(q), tcp=True)
    assert dns.decode_response(dns.tcp_unframe(framed)) == r
    assert zone.answer(b"garbage") is None
    assert zone.queries == 2


# -- the resolver ---------------------------------------------------------------------------------

def test_the_search_list_and_ndots():
    assert dns.candidates("web", "shop") == [
        "web.shop.svc.cluster.local", "web.svc.cluster.local", "web.cluster.local", "web"]
    assert dns.candidates("a.b.c.d.e.f", "x")[0] == "a.b.c.d.e.f"  # 5 dots: as is first
    assert dns.candidates("web.default.svc.cluster.local.", "x") == [
        "web.default.svc.cluster.local"]


def test_resolve_walks_the_candidates_and_explains_failures(zone):
    asked = []

    def exchange(query):
        asked.append(dns.decode_query(query).name)
        return zone.answer(query), None, None

    ip, lookups = dns.resolve("web", "default", exchange)
    assert ip == "10.96.0.50" and asked == ["web.default.svc.cluster.local"]
    with pytest.raises(dns.ResolveError, match="Could not resolve host: nothing"):
        dns.resolve("nothing", "default", exchange)

    class Dropped:
        reason = "connection refused"

    with pytest.raises(dns.ResolveError) as e:
        dns.resolve("web", "default", lambda q: (None, Dropped(), None))
    assert len(e.value.lookups) == 1 and "connection refused" in str(e.value)


# -- the addon --------------------------------------------------------------------------------

def test_addon_manifests_are_kubeadm_s():
    objects = dns.addon_objects()
    assert [r for r, _ in objects] == ["serviceaccounts", "clusterroles", "clusterrolebindings",
                                       "configmaps", "deployments", "services"]
    svc = dict(objects)["services"]
    assert svc["metadata"]["name"] == "kube-dns" and svc["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    deployment = dict(objects)["deployments"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    h = dns.template_hash(deployment["spec"]["template"])
    assert h == dns.template_hash(dns.coredns_deployment()["spec"]["template"])
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    p = dns.bare_pod(deployment, random.Random(1), "minikube")
    assert p["metadata"]["name"].startswith(f"coredns-{h}-") and len(
        p["metadata"]["name"]) == len(f"coredns-{h}-") + 5
    assert p["spec"]["nodeName"] == "minikube"
    assert p["metadata"]["labels"]["pod-template-hash"] == h


def test_the_addon_bootstraps_and_its_view_follows_the_api():
    spec = ClusterSpec(schedulers=0, controller_managers=0,
                       nodes=[NodeSpec("minikube"), NodeSpec("m02")])
    with simulate(spec, seed=31) as cluster:
        cluster.run_until(lambda c: len([p for p in c.list("pods", "kube-system",
                                                           label_selector="k8s-app=kube-dns"
                                                           )["items"]
                                         if p["status"].get("phase") == "Running"]) == 2,
                          timeout=60)
        pods = cluster.list("pods", "kube-system", label_selector="k8s-app=kube-dns")["items"]
        assert {p["spec"]["nodeName"] for p in pods} == {"minikube"}  # the control-plane node
        for resource, name in (("configmaps", "coredns"), ("services", "kube-dns"),
                               ("deployments", "coredns"), ("serviceaccounts", "coredns")):
            assert cluster.get(resource, name, "kube-system")["metadata"]["name"] == name
        zone = cluster._ctx.extra[dns.ZONE_KEY]
        assert zone.synced
        assert _a(zone, "kube-dns.kube-system.svc.cluster.local") == (NOERROR, ["10.96.0.10"])
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "10.96.0.77", "ports": [{"port": 80}]}})
        cluster.advance(1)
        assert _a(zone, "web.default.svc.cluster.local") == (NOERROR, ["10.96.0.77"])
        cluster.delete("services", "web")
        cluster.advance(1)
        assert _a(zone, "web.default.svc.cluster.local") == (NXDOMAIN, [])
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gone"},
                        "spec": {"clusterIP": "10.96.0.79", "ports": [{"port": 80}]}})
        cluster.advance(1)
        cluster.crash("coredns")  # changes while the view is down are found by the relist
        cluster.delete("services", "gone")
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "tmp"},
                        "spec": {"clusterIP": "10.96.0.78", "ports": [{"port": 80}]}})
        assert _a(zone, "gone.default.svc.cluster.local") == (NOERROR, ["10.96.0.79"])  # stale
        cluster.restart("coredns")
        cluster.advance(2)
        assert _a(zone, "tmp.default.svc.cluster.local") == (NOERROR, ["10.96.0.78"])
        assert _a(zone, "gone.default.svc.cluster.local") == (NXDOMAIN, [])
