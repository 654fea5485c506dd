"""A partner system gets an access token with its private key and asks the hub who it is.

Run against a hub started with `scripts/up` (it reads the demo credentials):

    .venv/bin/python examples/partner_token.py [--data-dir .mash] [--client-id ID]

This is what a police force's or NHS trust's integration does: sign a client assertion
(RFC 7523, as the NHS England API platform does) with the private key whose public half
the hub holds, exchange it at the token endpoint, then call the API with the token.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=".mash")
    parser.add_argument("--client-id", default="northshire-police-system")
    args = parser.parse_args()

    demo = Path(args.data_dir) / "demo"
    credentials = json.loads((demo / "credentials.json").read_text())
    client = next(c for c in credentials["clients"] if c["client_id"] == args.client_id)
    base_url = credentials["base_url"]
    token_endpoint = httpx.get(f"{base_url}/.well-known/openid-configuration").json()[
        "token_endpoint"]

    now = int(time.time())
    assertion = jwt.encode(
        {"iss": client["client_id"], "sub": client["client_id"], "aud": token_endpoint,
         "jti": str(uuid.uuid4()), "iat": now, "exp": now + 300},
        (demo / client["private_key_file"]).read_bytes(),
        algorithm="RS512",
        headers={"kid": client["kid"]},
    )
    response = httpx.post(token_endpoint, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    })
    response.raise_for_status()
    token = response.json()["access_token"]
    print(f"token: {response.json()['token_type']}, expires in {response.json()['expires_in']} s")

    me = httpx.get(f"{base_url}/api/v1/me", headers={"authorization": f"Bearer {token}"})
    me.raise_for_status()
    print(json.dumps(me.json(), indent=2))


if __name__ == "__main__":
    main()
