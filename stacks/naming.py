"""Physical names that are unique per stack and scenario instance, within the limits GCP and Kubernetes enforce.

Two stacks of one project (dev and staging) or two instances of one scenario (two vLLM models) share the project's
bucket and service account namespaces, so every name the stack derives joins the stack and the instance. A derived
name that would pass its limit is cut and ends in a hash of the whole name instead, so it stays unique and stable
from one `pulumi up` to the next; a name the config gives explicitly is checked, never changed.
"""

import hashlib
import re

BUCKET_NAME_MAX = 63
SERVICE_ACCOUNT_ID_MAX = 30
DNS_LABEL_MAX = 63
INSTANCE_NAME_MAX = 20
"""Instance names join longer names (namespaces, RayService names of at most 47 characters): kept short."""
_HASH_LENGTH = 6
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_INSTANCE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def derived_name(*parts: str, limit: int) -> str:
    """`parts` joined with '-', or, past `limit`, cut to fit and ended with a hash of the whole: unique and stable.
    Characters no GCP or Kubernetes name takes (a Pulumi stack may be named `eu_prod.v2`) become '-'."""
    name = "-".join(_UNSAFE.sub("-", part.lower()).strip("-") for part in parts if part)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{name[: limit - _HASH_LENGTH - 1].rstrip('-_')}-{digest}"


def check_instance_name(value: object) -> str:
    """A scenario instance's name: it becomes part of namespaces, bucket and Kubernetes object names."""
    if not isinstance(value, str) or not _INSTANCE_NAME.match(value) or len(value) > INSTANCE_NAME_MAX:
        raise ValueError(
            f"{value!r} is not allowed; allowed: 1-{INSTANCE_NAME_MAX} characters of lowercase letters, digits and "
            "'-', starting with a letter and not ending with '-'"
        )
    return value
