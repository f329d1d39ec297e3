"""Write a local `.env` for `make run` the first time it runs.

The generated secret key and encryption key stay in `.env` (ignored by git), so
data encrypted on one run can be read on the next.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` for local use. See .env.example for every setting.
DJANGO_DEBUG=true
DJANGO_SECRET_KEY={secret_key}
FIELD_ENCRYPTION_KEYS={fernet_key}
# The demo talks to the built-in sandbox provider on this machine.
SMS_ALLOW_PRIVATE_ENDPOINTS=true
PUBLIC_BASE_URL=http://127.0.0.1:{port}
# Key of the built-in fake 8x8 provider under /sandbox/.
SMS_SANDBOX_API_KEY={sandbox_key}
"""


def write_dev_env(path: Path, *, port: str) -> bool:
    if path.exists():
        return False
    path.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            fernet_key=Fernet.generate_key().decode(),
            sandbox_key=secrets.token_urlsafe(24),
            port=port,
        )
    )
    return True


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / ".env"
    port = sys.argv[1] if len(sys.argv) > 1 else "8000"
    if write_dev_env(target, port=port):
        print(f"Wrote {target.name} with fresh local keys.")
