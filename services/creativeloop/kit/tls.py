"""gRPC transport security from `GrpcTlsSettings`: server credentials and client channels.

One place turns the settings into grpc credentials, so every server (`ServiceRuntime`) and every
client (imagegen's copygen client, the local stack's health checks, the demo) speaks the same
TLS: plaintext when nothing is configured (the local stack, on loopback), TLS when a certificate
is configured, mutual TLS when servers also get a client CA. The PEM files are read once, when
the credentials are made: rotating them means restarting the process (Kubernetes does so when a
mounted Secret changes only if the pod restarts).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from creativeloop.kit.settings import GrpcTlsSettings

ChannelOptions = Sequence[tuple[str, str | int]]


def _read(path: Path | None) -> bytes | None:
    return None if path is None else path.read_bytes()


def server_credentials(settings: GrpcTlsSettings) -> grpc.ServerCredentials | None:
    """TLS credentials for a server, or None for plaintext (no certificate configured)."""
    if settings.cert_file is None or settings.key_file is None:
        return None
    client_ca = _read(settings.client_ca_file)
    return grpc.ssl_server_credentials(
        [(settings.key_file.read_bytes(), settings.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def channel_credentials(settings: GrpcTlsSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials for a client, or None for plaintext (no CA configured)."""
    if settings.ca_file is None:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=settings.ca_file.read_bytes(),
        private_key=_read(settings.client_key_file),
        certificate_chain=_read(settings.client_cert_file),
    )


def _options(settings: GrpcTlsSettings, options: ChannelOptions) -> list[tuple[str, str | int]]:
    result = list(options)
    if settings.server_name:
        result.append(("grpc.ssl_target_name_override", settings.server_name))
    return result


def aio_channel(target: str, settings: GrpcTlsSettings, options: ChannelOptions = ()) -> grpc.aio.Channel:
    """An asyncio channel to `target`, secure when the settings give a CA."""
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(target, credentials, options=_options(settings, options))


def sync_channel(target: str, settings: GrpcTlsSettings, options: ChannelOptions = ()) -> grpc.Channel:
    """A blocking channel to `target`, secure when the settings give a CA."""
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, credentials, options=_options(settings, options))


def add_port(server: grpc.aio.Server, target: str, settings: GrpcTlsSettings) -> int:
    """Bind `server` to `target` with TLS when configured; returns the bound port."""
    credentials = server_credentials(settings)
    if credentials is None:
        return server.add_insecure_port(target)
    return server.add_secure_port(target, credentials)
