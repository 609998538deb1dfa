"""Prices as people read them, one rule for copy and for rendered price tags."""

from __future__ import annotations

from decimal import Decimal

from creativeloop.v1 import common_pb2

_CURRENCY_SYMBOLS = {"USD": "$", "CNY": "¥", "RMB": "¥", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_price(price: common_pb2.Price) -> str:
    """The price for copy: "$59.99", "¥128", "12.50 CHF"; empty without a positive amount."""
    if price.amount_micros <= 0:
        return ""
    amount = (Decimal(price.amount_micros) / Decimal(1_000_000)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    currency = price.currency.upper()
    symbol = _CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return symbol + text
    return f"{text} {currency}".strip()
