"""An API key over plain http beyond loopback is logged as a warning; loopback and https not."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from outreach.endpoints import bearer_headers, is_loopback, sends_secret_in_clear

KEY = SecretStr("sk-test-key-value")


@pytest.mark.parametrize(("url", "clear"), [
    ("http://api.example.com/v1", True), ("http://10.0.0.7:8000/v1", True),
    ("HTTP://llm.internal/v1", True), ("https://api.example.com/v1", False),
    ("http://127.0.0.1:8080/v1", False), ("http://localhost:8080/v1", False),
    ("http://[::1]:8080/v1", False)])
def test_which_urls_send_a_secret_in_clear(url, clear):
    assert sends_secret_in_clear(url) is clear


def test_a_key_over_plain_http_is_sent_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="outreach.endpoints"):
        headers = bearer_headers(KEY, "http://api.example.com/v1", "llm")
    assert headers == {"Authorization": "Bearer sk-test-key-value"}
    assert "plain http" in caplog.text and "api.example.com" in caplog.text
    assert "sk-test-key-value" not in caplog.text


def test_https_loopback_and_no_key_say_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="outreach.endpoints"):
        assert bearer_headers(KEY, "https://api.example.com/v1", "llm")
        assert bearer_headers(KEY, "http://127.0.0.1:9/v1", "teacher")
        assert bearer_headers(None, "http://api.example.com/v1", "llm") == {}
        assert bearer_headers(SecretStr(""), "http://api.example.com/v1", "llm") == {}
    assert caplog.text == ""


def test_loopback_hosts():
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("") and not is_loopback("example.com") and not is_loopback("10.1.1.1")
