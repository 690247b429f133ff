"""Secrets (SMTP passwords, provider keys, webhook secrets) stored encrypted, referenced by id.

Events name a secret by its id only, so no secret reaches the event store, Kafka or a log.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as std_secrets
from pathlib import Path
from uuid import UUID, uuid4

from cryptography.fernet import Fernet
from psycopg_pool import ConnectionPool


def load_key(secret_key: str | None, data_dir: Path) -> bytes:
    """The Fernet key: derived from PLERA_SECRET_KEY, else generated once into the data directory."""
    if secret_key:
        return base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_bytes().strip()


class Vault:
    def __init__(self, pool: ConnectionPool, key: bytes) -> None:
        self._pool = pool
        self._fernet = Fernet(key)

    def put(self, value: str) -> UUID:
        secret_id = uuid4()
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO plera_secrets (id, ciphertext) VALUES (%s, %s)",
                (secret_id, self._fernet.encrypt(value.encode())),
            )
        return secret_id

    def get(self, secret_id: UUID) -> str:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT ciphertext FROM plera_secrets WHERE id = %s", (secret_id,)).fetchone()
        if row is None:
            raise KeyError(secret_id)
        return self._fernet.decrypt(bytes(row[0])).decode()


def new_token(prefix: str) -> str:
    return f"{prefix}_{std_secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
