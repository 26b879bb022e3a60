"""The live front end: the Kubernetes REST API over HTTPS, for the real kubectl.

``serve(system, apiservers, …)`` makes the credentials, serves the API and writes a
kubeconfig; ``create_app`` is the ASGI app itself (handlers ask the kube-apiserver actors
over the bus: ``ApiRequest`` in, ``ApiResponse`` and ``WatchEvent`` out). The pure parts —
URL parsing, discovery, OpenAPI, Table printers, the protobuf body reader — are exported
for tests and for other front ends. The surface is pinned by
``tests/actors/live/test_public_api.py``.
"""

from ._app import HTTP_SENDER, create_app, decode_body, parse_request, serve, wanted_as
from ._certs import (
    ADMIN_GROUPS,
    ADMIN_USER,
    Credentials,
    default_data_dir,
    ensure_credentials,
    read_tokens,
    write_kubeconfig,
)
from ._discovery import (
    AGGREGATED_V2,
    AGGREGATED_V2BETA1,
    KUBERNETES_VERSION,
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    version_info,
)
from ._openapi import openapi_v2, openapi_v3_document, openapi_v3_root
from ._protobuf import ProtobufError, decode_object
from ._tables import TABLE_RESOURCES, column_definitions, human_duration, table_for, table_row
from ._watch import WatchMailbox, WatchRegistry

__all__ = [
    "ADMIN_GROUPS",
    "ADMIN_USER",
    "AGGREGATED_V2",
    "AGGREGATED_V2BETA1",
    "HTTP_SENDER",
    "KUBERNETES_VERSION",
    "TABLE_RESOURCES",
    "Credentials",
    "ProtobufError",
    "WatchMailbox",
    "WatchRegistry",
    "aggregated_discovery",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "column_definitions",
    "create_app",
    "decode_body",
    "decode_object",
    "default_data_dir",
    "ensure_credentials",
    "human_duration",
    "openapi_v2",
    "openapi_v3_document",
    "openapi_v3_root",
    "parse_request",
    "read_tokens",
    "serve",
    "table_for",
    "table_row",
    "version_info",
    "wanted_as",
    "write_kubeconfig",
]
