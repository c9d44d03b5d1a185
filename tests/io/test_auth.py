"""Login JWT, credentials from the environment, and the persisted demo key pair."""

from __future__ import annotations

import json
import os
import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from qengine.io.auth import (
    DEMO_KEY_ID,
    AuthError,
    Credentials,
    CredentialsError,
    demo_credentials,
    demo_public_key_pem,
    load_credentials,
    make_login_token,
    public_key_pem,
    resolve_config_dir,
    verify_login_token,
)

NOW_S = 1767865600.12


def _pem(key, fmt) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pkcs1(rsa_key) -> str:
    pem = _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    return pem


@pytest.fixture(scope="module")
def pkcs8(rsa_key) -> str:
    pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    return pem


def _secret_body(pem: str) -> str:
    """A distinctive chunk of the base64 body, to search for in texts that must not hold it."""
    return pem.splitlines()[5]


# --- token -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_token_round_trip(fmt, request, rsa_key):
    pem = request.getfixturevalue(fmt)
    token = make_login_token("K123456789", pem, now_s=NOW_S)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS512"
    assert header["kid"] == "K123456789"
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["RS512"])
    assert claims == {"iat": NOW_S}
    # iat is a JSON float on the wire, like the official client's time.time().
    payload = jwt.api_jws.decode_complete(token, options={"verify_signature": False})["payload"]
    assert isinstance(json.loads(payload)["iat"], float)
    public = {"K123456789": public_key_pem(pem)}
    assert verify_login_token(token, public, now_s=NOW_S + 59) == "K123456789"
    assert verify_login_token(token, public, now_s=NOW_S - 59) == "K123456789"


def test_token_default_iat_is_wall_clock(pkcs8):
    token = make_login_token("K1", pkcs8)
    iat = jwt.decode(token, options={"verify_signature": False})["iat"]
    assert isinstance(iat, float)
    import time

    assert abs(iat - time.time()) < 60


def test_official_client_token_verifies(pkcs1):
    thalex = pytest.importorskip("thalex.thalex")
    token = thalex._make_auth_token("K9", pkcs1)
    assert verify_login_token(token, {"K9": public_key_pem(pkcs1)}, now_s=__import__("time").time())


def test_verify_rejects_wrong_key(pkcs8, other_key):
    token = make_login_token("K1", pkcs8, now_s=NOW_S)
    wrong = {"K1": public_key_pem(_pem(other_key, serialization.PrivateFormat.PKCS8))}
    with pytest.raises(AuthError, match="signature"):
        verify_login_token(token, wrong, now_s=NOW_S)


def test_verify_rejects_unknown_kid(pkcs8):
    token = make_login_token("K1", pkcs8, now_s=NOW_S)
    with pytest.raises(AuthError, match="unknown"):
        verify_login_token(token, {"K2": public_key_pem(pkcs8)}, now_s=NOW_S)


@pytest.mark.parametrize("offset_s", [61.0, -61.0, 3600.0])
def test_verify_rejects_stale_or_future_iat(pkcs8, offset_s):
    token = make_login_token("K1", pkcs8, now_s=NOW_S)
    with pytest.raises(AuthError, match="iat"):
        verify_login_token(token, {"K1": public_key_pem(pkcs8)}, now_s=NOW_S + offset_s)


def test_verify_accepts_integer_iat_and_rejects_bad_claims(rsa_key, pkcs8):
    public = {"K1": public_key_pem(pkcs8)}
    token = jwt.encode({"iat": int(NOW_S)}, rsa_key, algorithm="RS512", headers={"kid": "K1"})
    assert verify_login_token(token, public, now_s=NOW_S) == "K1"
    for claims in ({}, {"iat": "now"}, {"iat": True}):
        token = jwt.encode(claims, rsa_key, algorithm="RS512", headers={"kid": "K1"})
        with pytest.raises(AuthError):
            verify_login_token(token, public, now_s=NOW_S)


def test_verify_rejects_other_algorithms_and_garbage(rsa_key, pkcs8):
    public = {"K1": public_key_pem(pkcs8)}
    token = jwt.encode({"iat": NOW_S}, rsa_key, algorithm="RS256", headers={"kid": "K1"})
    with pytest.raises(AuthError, match="RS512"):
        verify_login_token(token, public, now_s=NOW_S)
    token = jwt.encode({"iat": NOW_S}, "x" * 64, algorithm="HS512", headers={"kid": "K1"})
    with pytest.raises(AuthError):
        verify_login_token(token, public, now_s=NOW_S)
    for garbage in ("", "a.b.c", "not a jwt", 42):
        with pytest.raises(AuthError):
            verify_login_token(garbage, public, now_s=NOW_S)
    good = make_login_token("K1", pkcs8, now_s=NOW_S)
    head, body, sig = good.split(".")
    with pytest.raises(AuthError):
        verify_login_token(f"{head}.{body}x.{sig}", public, now_s=NOW_S)


def test_make_token_rejects_bad_keys_without_echoing_them(pkcs8):
    broken = pkcs8.replace("A", "#", 3)
    with pytest.raises(AuthError) as info:
        make_login_token("K1", broken, now_s=NOW_S)
    assert _secret_body(pkcs8)[:20] not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    with pytest.raises(AuthError, match="RSA"):
        make_login_token("K1", ec_pem, now_s=NOW_S)
    with pytest.raises(AuthError, match="key id"):
        make_login_token("", pkcs8, now_s=NOW_S)


def test_credentials_parse_their_key_once(pkcs8, rsa_key, monkeypatch):
    """Login tokens of one Credentials share one parsed key (RSA parsing checks the key, about
    40 ms); each token still verifies and carries its own issue time."""
    from qengine.io import auth

    parsed = []
    real = auth._load_private_key
    monkeypatch.setattr(auth, "_load_private_key", lambda pem: parsed.append(1) or real(pem))
    creds = Credentials("K1", pkcs8)
    public = {"K1": public_key_pem(pkcs8)}
    parsed.clear()
    tokens = [creds.login_token(now_s=NOW_S + i) for i in range(3)]
    assert len(parsed) == 1
    assert creds.signing_key().private_numbers() == rsa_key.private_numbers()
    for i, token in enumerate(tokens):
        assert verify_login_token(token, public, now_s=NOW_S + i) == "K1"
        assert jwt.decode(token, options={"verify_signature": False})["iat"] == NOW_S + i
    assert creds == Credentials("K1", pkcs8)  # the cache is not part of equality


def test_credentials_pickle_without_their_parsed_key(pkcs8):
    import pickle

    creds = Credentials("K1", pkcs8, source="test")
    creds.signing_key()  # parsed and cached: an RSA key object cannot be pickled
    again = pickle.loads(pickle.dumps(creds))
    assert again == creds
    assert again.source == "test"
    assert again.login_token(now_s=NOW_S)


def test_credentials_with_a_bad_key_fail_at_use_without_quoting_it(pkcs8):
    broken = pkcs8.replace("\n", "").replace("-----END PRIVATE KEY-----", "")
    creds = Credentials("K1", broken)
    for _ in range(2):  # nothing half-loaded is kept
        with pytest.raises(AuthError, match="not an unencrypted PEM") as info:
            creds.login_token(now_s=NOW_S)
        assert _secret_body(pkcs8) not in str(info.value)


# --- credentials from the environment -----------------------------------------------------------


def test_credentials_repr_hides_secrets(pkcs1):
    creds = Credentials("K123456789", pkcs1, source="test")
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert "K123456789" not in text
        assert "PRIVATE" not in text
        assert _secret_body(pkcs1) not in text


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,
        lambda s: f'"{s}"',
        lambda s: f"'{s}'",
        lambda s: f'"""{s}"""',
        lambda s: f"  \"'{s}'\"  \n",
        lambda s: f'" """ {s} """ "',
    ],
)
def test_load_credentials_strips_quotes(wrap, pkcs1):
    env = {"THALEX_TEST_API_KEY_ID": wrap("K123"), "THALEX_TEST_PRIVATE_KEY": wrap(pkcs1)}
    creds = load_credentials("test", environ=env)
    assert creds.key_id == "K123"
    assert creds.private_key_pem == pkcs1.strip()
    make_login_token(creds.key_id, creds.private_key_pem, now_s=NOW_S)


def test_load_credentials_one_line_pem_with_escaped_newlines(pkcs8):
    env = {"THALEX_PROD_API_KEY_ID": "K1", "THALEX_PROD_PRIVATE_KEY": pkcs8.replace("\n", "\\n")}
    creds = load_credentials("prod", environ=env)
    assert creds.private_key_pem == pkcs8.strip()


def test_load_credentials_from_files(tmp_path, pkcs8):
    (tmp_path / "kid").write_text('"K77"\n')
    (tmp_path / "key.pem").write_text(pkcs8)
    env = {
        "THALEX_PROD_API_KEY_ID_FILE": str(tmp_path / "kid"),
        "THALEX_PROD_PRIVATE_KEY_FILE": f"'{tmp_path / 'key.pem'}'",
    }
    creds = load_credentials("prod", environ=env)
    assert (creds.key_id, creds.private_key_pem) == ("K77", pkcs8.strip())
    # The test network's variables are not read for prod.
    with pytest.raises(CredentialsError, match="THALEX_TEST_API_KEY_ID"):
        load_credentials("test", environ=env)


def test_load_credentials_names_every_missing_variable():
    with pytest.raises(CredentialsError) as info:
        load_credentials("test", environ={"THALEX_TEST_API_KEY_ID": "  '' "})
    text = str(info.value)
    assert "THALEX_TEST_API_KEY_ID" in text
    assert "THALEX_TEST_PRIVATE_KEY" in text


def test_load_credentials_errors_never_show_values(tmp_path, pkcs8):
    secret_id = "Ksecretkeyid"
    bad_pem = pkcs8.replace("MII", "XYZ")
    env = {"THALEX_TEST_API_KEY_ID": secret_id, "THALEX_TEST_PRIVATE_KEY": bad_pem}
    with pytest.raises(CredentialsError, match="THALEX_TEST_PRIVATE_KEY") as info:
        load_credentials("test", environ=env)
    assert secret_id not in str(info.value)
    assert _secret_body(pkcs8) not in str(info.value)
    assert info.value.__cause__ is None
    env = {"THALEX_TEST_API_KEY_ID": secret_id, "THALEX_TEST_PRIVATE_KEY": "not-a-pem-secret"}
    with pytest.raises(CredentialsError) as info:
        load_credentials("test", environ=env)
    assert "not-a-pem-secret" not in str(info.value)
    assert secret_id not in str(info.value)
    env = {
        "THALEX_TEST_API_KEY_ID": secret_id,
        "THALEX_TEST_PRIVATE_KEY_FILE": str(tmp_path / "absent.pem"),
    }
    with pytest.raises(CredentialsError, match="THALEX_TEST_PRIVATE_KEY_FILE"):
        load_credentials("test", environ=env)


def test_load_credentials_rejects_both_direct_and_file(tmp_path, pkcs8):
    (tmp_path / "key.pem").write_text(pkcs8)
    env = {
        "THALEX_TEST_API_KEY_ID": "K1",
        "THALEX_TEST_PRIVATE_KEY": pkcs8,
        "THALEX_TEST_PRIVATE_KEY_FILE": str(tmp_path / "key.pem"),
    }
    with pytest.raises(CredentialsError, match="only one"):
        load_credentials("test", environ=env)


def test_load_credentials_rejects_unknown_network():
    with pytest.raises(ValueError, match="network"):
        load_credentials("main", environ={})  # type: ignore[arg-type]


def test_load_credentials_defaults_to_os_environ(monkeypatch, pkcs8):
    monkeypatch.setenv("THALEX_TEST_API_KEY_ID", "Kenv")
    monkeypatch.setenv("THALEX_TEST_PRIVATE_KEY", pkcs8)
    monkeypatch.delenv("THALEX_TEST_API_KEY_ID_FILE", raising=False)
    monkeypatch.delenv("THALEX_TEST_PRIVATE_KEY_FILE", raising=False)
    assert load_credentials("test").key_id == "Kenv"


# --- demo key pair ------------------------------------------------------------------------------


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_demo_key_created_once_with_0600_and_reused(tmp_path):
    directory = tmp_path / "cfg" / "qengine"
    creds = demo_credentials(directory)
    assert creds.key_id == DEMO_KEY_ID == "qengine-demo"
    private_file = directory / "demo_private_key.pem"
    public_file = directory / "demo_public_key.pem"
    assert _mode(private_file) == 0o600
    assert _mode(public_file) == 0o600
    assert _mode(directory) == 0o700
    assert private_file.read_text() == creds.private_key_pem
    assert list(directory.glob(".tmp-*")) == []
    again = demo_credentials(directory)
    assert again == creds
    public = demo_public_key_pem(directory)
    assert public == public_file.read_text() == public_key_pem(creds.private_key_pem)
    token = make_login_token(creds.key_id, creds.private_key_pem, now_s=NOW_S)
    assert verify_login_token(token, {DEMO_KEY_ID: public}, now_s=NOW_S) == DEMO_KEY_ID


def test_demo_key_tightens_loose_permissions_and_repairs_public(tmp_path):
    creds = demo_credentials(tmp_path)
    (tmp_path / "demo_private_key.pem").chmod(0o644)
    (tmp_path / "demo_public_key.pem").write_text("stale")
    assert demo_credentials(tmp_path) == creds
    assert _mode(tmp_path / "demo_private_key.pem") == 0o600
    assert (tmp_path / "demo_public_key.pem").read_text() == public_key_pem(creds.private_key_pem)


def test_demo_key_corrupt_file_names_path_not_content(tmp_path):
    (tmp_path / "demo_private_key.pem").write_text("garbage-secret")
    (tmp_path / "demo_private_key.pem").chmod(0o600)
    with pytest.raises(CredentialsError, match=r"demo_private_key\.pem") as info:
        demo_credentials(tmp_path)
    assert "garbage-secret" not in str(info.value)


def test_config_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("QENGINE_CONFIG_DIR", str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_config_dir() == tmp_path / "override"
    assert resolve_config_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("QENGINE_CONFIG_DIR")
    assert resolve_config_dir() == tmp_path / "xdg" / "qengine"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_config_dir() == tmp_path / "home" / ".config" / "qengine"
    monkeypatch.setenv("QENGINE_CONFIG_DIR", str(tmp_path / "env"))
    demo_credentials()
    assert (tmp_path / "env" / "demo_private_key.pem").exists()


def test_env_file_is_read_without_touching_the_process_environment(tmp_path, monkeypatch):
    from qengine.io.auth import read_env_file

    env_file = tmp_path / ".env"
    env_file.write_text('# keys\nexport THALEX_TEST_API_KEY_ID="K1"\n\nOTHER = x=y\nnot a line\n')
    monkeypatch.delenv("THALEX_TEST_API_KEY_ID", raising=False)
    assert read_env_file(env_file) == {"THALEX_TEST_API_KEY_ID": '"K1"', "OTHER": "x=y"}
    assert "THALEX_TEST_API_KEY_ID" not in __import__("os").environ
    assert read_env_file(tmp_path / "absent.env") == {}
