"""Kafka client options from the settings: the one place that knows how clients connect.

Every aiokafka client of the project (`EventWorker`, `EventProducer`, `TopicFeed`, the DLQ tool,
the admin client, the bandit's engine) is built with `client_options(settings)`, and the bandit's
faust app with `faust_credentials(settings)`, so TLS and SASL are one setting away for all of
them (`KafkaSecuritySettings`, CREATIVELOOP_KAFKA_*).

>>> from creativeloop.kit.settings import CommonSettings, KafkaSecuritySettings
>>> sorted(client_options(CommonSettings(bootstrap_servers="k:9092")))
['bootstrap_servers', 'security_protocol']
>>> secured = CommonSettings(kafka=KafkaSecuritySettings(
...     security_protocol="SASL_SSL", sasl_username="ads", sasl_password="s3cret"))
>>> options = client_options(secured)
>>> options["sasl_mechanism"], options["sasl_plain_username"], options["ssl_context"].verify_mode.name
('SCRAM-SHA-512', 'ads', 'CERT_REQUIRED')
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context

from creativeloop.kit.settings import CommonSettings, KafkaSecuritySettings


def ssl_context(security: KafkaSecuritySettings) -> ssl.SSLContext:
    """A client TLS context: the configured CA (else the system's), an optional client certificate."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(security.ssl_ca_file) if security.ssl_ca_file else None,
        certfile=str(security.ssl_cert_file) if security.ssl_cert_file else None,
        keyfile=str(security.ssl_key_file) if security.ssl_key_file else None,
    )
    context.check_hostname = security.ssl_check_hostname
    return context


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """`bootstrap_servers` and the security options for an aiokafka consumer, producer or admin."""
    security = settings.kafka
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": security.security_protocol,
    }
    if security.security_protocol.endswith("SSL"):
        options["ssl_context"] = ssl_context(security)
    if security.security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = security.sasl_password.get_secret_value()
    return options


def faust_credentials(settings: CommonSettings) -> faust.types.auth.CredentialsT | None:
    """The same security for faust's own clients (`broker_credentials`), None for plaintext."""
    security = settings.kafka
    context = ssl_context(security) if security.security_protocol.endswith("SSL") else None
    if security.security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
