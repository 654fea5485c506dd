"""The hub's one argon2id hasher, in a module of its own so that `mash up` can begin the
demo's hashing before it imports the services (see mash.demo.start_demo_secrets)."""

from pwdlib import PasswordHash

password_hasher = PasswordHash.recommended()  # argon2id
