"""The public surface of actors.live, pinned."""

import actors.live as live


def test_public_api_is_pinned() -> None:
    assert live.__all__ == [
        "ADMIN_GROUPS", "ADMIN_USER", "AGGREGATED_V2", "AGGREGATED_V2BETA1", "HTTP_SENDER",
        "KUBERNETES_VERSION", "TABLE_RESOURCES", "Credentials", "ProtobufError",
        "WatchMailbox", "WatchRegistry", "aggregated_discovery", "api_group",
        "api_group_list", "api_resource_list", "api_versions", "column_definitions",
        "create_app", "decode_body", "decode_object", "default_data_dir",
        "ensure_credentials", "human_duration", "openapi_v2", "openapi_v3_document",
        "openapi_v3_root", "parse_request", "read_tokens", "serve", "table_for", "table_row",
        "version_info", "wanted_as", "write_kubeconfig",
    ]
    for name in live.__all__:
        assert getattr(live, name) is not None
