"""Xero: the OAuth flow (``oauth``), the Accounting API adapter (``client``) and the JSON mapping (``records``).

from tamio.integrations.xero import XeroAdapter, authorize_url, choose_tenant
"""

from tamio.integrations.xero.client import XeroAdapter
from tamio.integrations.xero.oauth import (
    DEFAULT_SCOPES,
    XeroTenant,
    authorize_url,
    choose_tenant,
    exchange_code,
    list_connections,
    refresh_token_set,
)
from tamio.integrations.xero.ratelimit import TenantRateLimiter

__all__ = [
    "DEFAULT_SCOPES",
    "TenantRateLimiter",
    "XeroAdapter",
    "XeroTenant",
    "authorize_url",
    "choose_tenant",
    "exchange_code",
    "list_connections",
    "refresh_token_set",
]
