"""Tokens the stack generates for its servers' Secrets: Ray's token on the GKE Ray add-on, the Saxml admin token.

Generated once by a pulumi-random RandomPassword and kept, encrypted, in the stack's state: no manual step before
`pulumi up`, the same value on every update, a new one when the resource is replaced (`pulumi up --replace URN`).
"""

import pulumi
import pulumi_random

TOKEN_CHARACTERS = 48
"""Letters and digits only: visible ASCII without spaces, what an HTTP header carries as is (the Saxml HTTP server
wants at least 16 such characters)."""


def generated_token(resource_name: str) -> pulumi.Output[str]:
    """A new random token (a Pulumi secret) held by the RandomPassword `resource_name`."""
    return pulumi_random.RandomPassword(resource_name, length=TOKEN_CHARACTERS, special=False).result
