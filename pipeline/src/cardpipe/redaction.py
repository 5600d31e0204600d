"""The one redaction of secrets for every message cardpipe prints: CLI errors, log events, Airflow alerts.

It hides, wherever they appear in a text:
- URL passwords: `scheme://user:pw@host`, `scheme://:pw@host` (percent-encoded or not);
- secret query parameters: `?password=…`, `&sslpassword=…`, `pass=`, `token=`, `secret=`, keys ending in
  `_key`/`key` such as `api_key`, `access_key` (see SECRET_KEYS);
- key/value DSN values: `password=secret`, `password='a b'`, `password = 'it\\'s'` (libpq quoting; a whole
  DSN is parsed with psycopg2's own parser, `psycopg2.extensions.parse_dsn`);
- PEM blocks (`-----BEGIN … PRIVATE KEY----- … -----END …-----`);
- every value registered as a known secret (`register`, `register_settings`: the configured RabbitMQ and
  PostgreSQL passwords, the Snowflake private key and passphrase), in its plain and percent-encoded forms.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from cardpipe.config import Settings

MASK = "***"
# Parameter names whose value is a secret, in URLs' queries and key/value DSNs (lower case).
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "sslpassword",
        "sslkey_password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "auth_token",
        "api_key",
        "apikey",
        "access_key",
        "secret_key",
        "aws_secret_access_key",
        "private_key",
        "private_key_passphrase",
        "passphrase",
        "x-amz-security-token",
        "x-amz-signature",
        "signature",
    }
)
# Registered secrets shorter than this are not replaced in free text (they would mask ordinary words).
MIN_SECRET_LENGTH = 4

_KEYS = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
# scheme://[user]:password@ : the password runs to the last '@' before the path (an unencoded '@' in it).
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:'\"]*):(?P<pw>[^\s/?#'\"]*)@")
# key=value in a URL query or fragment (after ? & ; #).
_QUERY = re.compile(rf"(?P<head>[?&;#](?:{_KEYS})=)(?P<value>[^&#\s'\"]*)", re.IGNORECASE)
# key = value in a key/value DSN or any text: single-quoted (libpq: \' and \\ escapes), double-quoted, bare.
_KEY_VALUE = re.compile(
    rf"(?P<head>(?<![\w.-])[\"']?(?:{_KEYS})[\"']?\s*[=:]\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,;&)}\]'\"]+)",
    re.IGNORECASE,
)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL)

_known: set[str] = set()
_lock = threading.Lock()


def register(*secrets: str | None) -> None:
    """Remember values to hide wherever they appear (their percent-encoded form too)."""
    with _lock:
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            _known.update({secret, quote(secret, safe=""), unquote(secret)})
            # A PEM key: each base64 line alone is secret too (messages may quote a line).
            _known.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 16)


def forget_all() -> None:
    """Tests: clear the registered secrets."""
    with _lock:
        _known.clear()


def secrets_of(dsn_or_url: str | None) -> list[str]:
    """The password-like values of a DSN or URL (decoded), for `register`."""
    if not dsn_or_url:
        return []
    found: list[str] = []
    parsed = _parse_dsn(dsn_or_url)
    if parsed:
        found += [v for k, v in parsed.items() if k.lower() in SECRET_KEYS and v]
    if "://" in dsn_or_url:
        try:
            parts = urlsplit(dsn_or_url)
            if parts.password:
                found += [parts.password, unquote(parts.password)]
        except ValueError:
            pass
    found += [unquote(m.group("pw")) for m in _URL_USERINFO.finditer(dsn_or_url) if m.group("pw")]
    found += [_unquote_value(m.group("value")) for m in _KEY_VALUE.finditer(dsn_or_url)]
    found += [unquote(m.group("value")) for m in _QUERY.finditer(dsn_or_url) if m.group("value")]
    # A password equal to the user name (guest:guest) hides nothing and would mask the user everywhere.
    users = {(parsed or {}).get("user")}
    if "://" in dsn_or_url:
        with contextlib.suppress(ValueError):
            users.add(urlsplit(dsn_or_url).username)
    return [s for s in dict.fromkeys(found) if s and s != MASK and s not in users]


def register_settings(settings: Settings) -> None:
    """Every secret the configuration holds: broker and database passwords, the Snowflake key material."""
    register(*secrets_of(settings.rabbitmq.url), *secrets_of(settings.postgres.dsn))
    register(settings.snowflake.private_key, settings.snowflake.private_key_passphrase)


def redact(text: str) -> str:
    """`text` with every secret form above masked. Never raises."""
    if not text:
        return text
    try:
        return _redact(text)
    except Exception:  # a redaction bug must not make an error unprintable: mask the whole text instead
        return "<message withheld: it could not be redacted>"


def _redact(text: str) -> str:
    out = _PEM.sub("-----REDACTED PEM BLOCK-----", text)
    out = _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", out)
    out = _QUERY.sub(lambda m: m.group("head") + (MASK if m.group("value") else ""), out)
    out = _KEY_VALUE.sub(_mask_value, out)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.lstrip("'\"").startswith(MASK):
        return match.group(0)
    quote_char = value[0] if value[:1] in {"'", '"'} else ""
    return f"{match.group('head')}{quote_char}{MASK}{quote_char}"


def _unquote_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in {"'", '"'}:
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parse_dsn(dsn: str) -> dict[str, str] | None:
    """psycopg2's own parser (libpq's rules for quoting and URLs), or None when `dsn` is not a DSN."""
    try:
        from psycopg2.extensions import parse_dsn  # noqa: PLC0415 - only where psycopg2 is installed
    except ImportError:
        return None
    try:
        parsed: dict[str, str] = parse_dsn(dsn)
    except Exception:
        return None
    return parsed


def redact_dsn(dsn: str, text: str | None = None) -> str:
    """A DSN (URL or libpq key/value) or URL for a message, or `text` that may quote it (a driver's error):
    secret values masked, including the DSN's own secrets (as psycopg2 parses them) wherever they appear."""
    out = redact(dsn if text is None else text)
    for secret in sorted(secrets_of(dsn), key=len, reverse=True):
        if len(secret) < MIN_SECRET_LENGTH:
            continue  # already masked by the patterns; too short to replace in free text
        for form in {secret, quote(secret, safe="")}:
            out = out.replace(form, MASK)
    return out


def redact_value(value: Any) -> Any:
    """Strings redacted; dicts, lists and tuples walked (log event values); anything else as is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and k.lower() in SECRET_KEYS and v else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value
