"""Thalex ``public/login`` tokens and API keys (sans-IO).

The login token is a JWT signed RS512 with the API key's RSA private key: header ``kid`` is the
key id, the only claim is ``iat`` in float Unix seconds, as the official client sends it. Keys come
from the environment (or files the environment points to) or, for the local simulator, from a demo
key pair created once in the user's config directory.

Secrets never appear in a repr, a log line or an exception text: errors name the variable or the
file, never the value, and key-parsing exceptions are raised ``from None`` so that no library
message about the key material is chained.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "DEMO_KEY_ID",
    "AuthError",
    "Credentials",
    "CredentialsError",
    "demo_credentials",
    "demo_public_key_pem",
    "load_credentials",
    "make_login_token",
    "public_key_pem",
    "resolve_config_dir",
    "verify_login_token",
]

DEMO_KEY_ID = "qengine-demo"
DEMO_PRIVATE_KEY_FILE = "demo_private_key.pem"
DEMO_PUBLIC_KEY_FILE = "demo_public_key.pem"
ALGORITHM = "RS512"
_QUOTES = "'\""


class AuthError(Exception):
    """A login token could not be made or was rejected; the text never holds key material."""


class CredentialsError(AuthError):
    """API credentials are missing or unusable; the text names variables or files, not values."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key id and its PEM private key.

    Parameters
    ----------
    key_id : str
        Thalex API key id (the JWT ``kid``).
    private_key_pem : str
        RSA private key in PEM, PKCS#1 or PKCS#8.
    source : str
        Where the credentials came from (variable names or ``"demo"``), for messages.
    """

    key_id: str
    private_key_pem: str
    source: str = ""
    # The parsed key, once loaded: RSA parsing checks the key (about 40 ms), so a process that
    # logs in again (reconnects) or validated the key at start does it once per credentials.
    _key: list[rsa.RSAPrivateKey] = field(default_factory=list, init=False, repr=False,
                                          compare=False)

    def signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA private key, parsed (and checked) at the first call; :class:`AuthError` when
        the PEM is not an unencrypted RSA key."""
        if not self._key:
            self._key.append(_load_private_key(self.private_key_pem))
        return self._key[0]

    def login_token(self, now_s: float | None = None) -> str:
        """A ``public/login`` JWT signed with this key (see :func:`make_login_token`)."""
        return _sign(self.key_id, self.signing_key(), now_s)

    def __reduce__(self) -> tuple[type[Credentials], tuple[str, str, str]]:
        # Pickled (e.g. to a worker process) without the parsed key, which cannot be pickled.
        return (Credentials, (self.key_id, self.private_key_pem, self.source))

    def __repr__(self) -> str:
        # The key id is not secret by itself, but the old bot kept it out of logs; so do we.
        return f"Credentials(key_id=<redacted>, private_key_pem=<redacted>, source={self.source!r})"

    __str__ = __repr__


def _load_private_key(private_key_pem: str | bytes) -> rsa.RSAPrivateKey:
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # from None: no chained library text that might quote the key material.
        raise AuthError("private key is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError("private key is not an RSA key (RS512 needs RSA)")
    return key


def public_key_pem(private_key_pem: str | bytes) -> str:
    """Return the PEM (SubjectPublicKeyInfo) public key matching a PEM RSA private key."""
    return _public_pem(_load_private_key(private_key_pem))


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def make_login_token(key_id: str, private_key_pem: str | bytes, now_s: float | None = None) -> str:
    """Build the ``public/login`` JWT.

    Parameters
    ----------
    key_id : str
        API key id, sent as the JWT header ``kid``.
    private_key_pem : str or bytes
        RSA private key in PEM (PKCS#1 ``BEGIN RSA PRIVATE KEY`` or PKCS#8 ``BEGIN PRIVATE KEY``).
    now_s : float, optional
        Issue time in Unix seconds; defaults to the wall clock. Sent as a float ``iat``.

    Returns
    -------
    str
        The compact JWT.
    """
    return _sign(key_id, _load_private_key(private_key_pem), now_s)


def _sign(key_id: str, key: rsa.RSAPrivateKey, now_s: float | None) -> str:
    if not isinstance(key_id, str) or not key_id:
        raise AuthError("key id must be a non-empty string")
    iat_s = time.time() if now_s is None else float(now_s)
    if not math.isfinite(iat_s):
        raise AuthError("issue time must be finite")
    return jwt.encode({"iat": iat_s}, key, algorithm=ALGORITHM, headers={"kid": key_id})


def verify_login_token(
    token: str,
    public_keys: Mapping[str, str | bytes],
    now_s: float,
    max_skew_s: float = 60.0,
) -> str:
    """Check a login JWT as the exchange would; used by the simulator.

    Parameters
    ----------
    token : str
        The compact JWT from ``public/login``.
    public_keys : Mapping[str, str or bytes]
        Known key ids mapped to PEM public keys.
    now_s : float
        Server time in Unix seconds.
    max_skew_s : float
        Largest accepted ``|now_s - iat|`` in seconds.

    Returns
    -------
    str
        The key id of the verified token.

    Raises
    ------
    AuthError
        Malformed token, wrong algorithm, unknown ``kid``, bad signature, missing, non-numeric
        or stale ``iat``.
    """
    if not isinstance(token, str):
        raise AuthError("token must be a string")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("token is not a well-formed JWT") from None
    if header.get("alg") != ALGORITHM:
        raise AuthError(f"token algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in public_keys:
        raise AuthError("token key id is unknown")
    try:
        public = serialization.load_pem_public_key(_as_bytes(public_keys[kid]))
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            # iat is checked below against the caller's clock, with skew both ways.
            options={"verify_iat": False, "verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise AuthError("token signature does not verify") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise AuthError("token could not be verified") from None
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise AuthError("token iat claim missing or not a number")
    if abs(now_s - iat) > max_skew_s:
        raise AuthError(f"token iat is more than {max_skew_s:g} s from server time")
    return kid


def _as_bytes(pem: str | bytes) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem


def _strip_quotes(value: str) -> str:
    """Strip whitespace and surrounding quotes (', ", \"\"\") repeatedly, as the old bot did."""
    previous = None
    while value != previous:
        previous = value
        value = value.strip().strip(_QUOTES)
    # A PEM pasted into a one-line .env entry carries literal "\n" escapes.
    if "\n" not in value and "\\n" in value:
        return _strip_quotes(value.replace("\\n", "\n"))
    return value


def _read_variable(name: str, environ: Mapping[str, str]) -> str | None:
    """Value of ``name`` or of the file that ``name_FILE`` points to, stripped; None if unset."""
    direct = environ.get(name)
    path = environ.get(f"{name}_FILE")
    if direct is not None and direct.strip() and path is not None and path.strip():
        raise CredentialsError(f"set only one of {name} and {name}_FILE")
    if direct is not None and direct.strip():
        return _strip_quotes(direct) or None
    if path is None or not path.strip():
        return None
    path = _strip_quotes(path)
    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CredentialsError(f"cannot read the file named by {name}_FILE: {reason}") from None
    return _strip_quotes(text) or None


def load_credentials(
    network: Literal["test", "prod"], environ: Mapping[str, str] | None = None
) -> Credentials:
    """Read API credentials for a network from the environment.

    Parameters
    ----------
    network : {"test", "prod"}
        Thalex testnet or production.
    environ : Mapping[str, str], optional
        Environment to read; defaults to ``os.environ``. Reads ``THALEX_<NET>_API_KEY_ID`` and
        ``THALEX_<NET>_PRIVATE_KEY``, or their ``*_FILE`` variants holding a path.

    Returns
    -------
    Credentials

    Raises
    ------
    CredentialsError
        Naming every missing variable, or the variable whose value is not a usable RSA PEM key.
    """
    if network not in ("test", "prod"):
        raise ValueError(f"network must be 'test' or 'prod', got {network!r}")
    env = os.environ if environ is None else environ
    prefix = f"THALEX_{network.upper()}_"
    key_var, pem_var = f"{prefix}API_KEY_ID", f"{prefix}PRIVATE_KEY"
    key_id = _read_variable(key_var, env)
    pem = _read_variable(pem_var, env)
    missing = [f"{var} (or {var}_FILE)" for var, v in ((key_var, key_id), (pem_var, pem)) if not v]
    if missing:
        raise CredentialsError(f"missing {network} API credentials: set {', '.join(missing)}")
    credentials = Credentials(key_id, pem, source=f"{key_var}, {pem_var}")
    try:
        credentials.signing_key()
    except AuthError as exc:
        raise CredentialsError(f"{pem_var}: {exc}") from None
    return credentials


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines of a ``.env`` file (the old bot loaded one at start).

    Blank lines and ``#`` comments are skipped, an ``export`` prefix is allowed; values keep their
    quotes here (credential loading strips them). A missing file gives ``{}``. Values are never
    logged.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip()
    return values


def resolve_config_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """qengine's config directory: ``override``, ``$QENGINE_CONFIG_DIR``, or XDG default.

    The default is ``$XDG_CONFIG_HOME/qengine``, else ``~/.config/qengine``.
    """
    if override is not None:
        return Path(override)
    if os.environ.get("QENGINE_CONFIG_DIR"):
        return Path(os.environ["QENGINE_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qengine"


def _write_new_file(path: Path, data: str) -> bool:
    """Create ``path`` (mode 0600) atomically; return False if another writer got there first."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
        try:
            # link fails if path exists: two processes racing both end up with the same key.
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_key_file(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # tighten a key file someone loosened
    return path.read_text()


def demo_credentials(config_dir: str | os.PathLike[str] | None = None) -> Credentials:
    """The demo key pair for the local simulator, created once (RSA 2048) and reused.

    Parameters
    ----------
    config_dir : path, optional
        Directory holding the key files; see ``resolve_config_dir`` for the default.

    Returns
    -------
    Credentials
        Key id ``"qengine-demo"`` and the private key from ``demo_private_key.pem`` (mode 0600).
    """
    directory = resolve_config_dir(config_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = directory / DEMO_PRIVATE_KEY_FILE
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        _write_new_file(private_path, pem)
    try:
        pem = _read_key_file(private_path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CredentialsError(f"cannot read demo key file {private_path}: {reason}") from None
    credentials = Credentials(DEMO_KEY_ID, pem, source="demo")
    try:
        public = _public_pem(credentials.signing_key())
    except AuthError:
        raise CredentialsError(f"demo key file {private_path} is not a usable RSA key") from None
    public_path = directory / DEMO_PUBLIC_KEY_FILE
    if not public_path.exists() or _read_key_file(public_path) != public:
        public_path.unlink(missing_ok=True)
        _write_new_file(public_path, public)
    return credentials


def demo_public_key_pem(config_dir: str | os.PathLike[str] | None = None) -> str:
    """PEM public key of the demo key pair (creating the pair if needed), for the simulator."""
    return _public_pem(demo_credentials(config_dir).signing_key())
