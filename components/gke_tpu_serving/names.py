"""Physical-name rules that GCP and Kubernetes enforce, checked before anything is registered.

Pure, so stack config and components share the same checks. Each raises `ArgError` located at `at`, the field the
caller asks it to judge (none by default: the message is then the reason alone).
"""

import re
from collections.abc import Sequence

import pulumi

from gke_tpu_serving.errors import ArgError, PathPart

# DNS-1123 label: what Kubernetes accepts for namespaces, Services and most object names.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# GKE cluster and node-pool names must also start with a letter.
_GKE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Google service account ids (the part before "@").
_SERVICE_ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]*[a-z0-9]$")

GKE_NAME_MAX = 40
DNS_LABEL_MAX = 63
SERVICE_ACCOUNT_ID_MIN = 6
SERVICE_ACCOUNT_ID_MAX = 30


def check_gke_name(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """A GKE cluster or node-pool name: 1-40 characters, lowercase letters, digits and '-', starting
    with a letter and not ending with '-'."""
    if not isinstance(value, str) or not _GKE_NAME.match(value) or len(value) > GKE_NAME_MAX:
        raise ArgError(
            at,
            f"{value!r} is not a valid GKE name; allowed: 1-{GKE_NAME_MAX} characters of lowercase letters, "
            "digits and '-', starting with a letter and not ending with '-'",
        )


def check_dns_label(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """A Kubernetes DNS-1123 label (namespaces, Services, ...)."""
    if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > DNS_LABEL_MAX:
        raise ArgError(
            at,
            f"{value!r} is not a valid DNS-1123 label; allowed: 1-{DNS_LABEL_MAX} characters of lowercase "
            "letters, digits and '-', starting and ending with a letter or digit",
        )


def dns_label_at(path: Sequence[PathPart], value: object) -> str:
    """`value` as a DNS-1123 label, or ArgError located at `path`."""
    check_dns_label(value, at=path)
    return str(value)


def check_service_account_id(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """A Google service account id: 6-30 characters matching ^[a-z][-a-z0-9]*[a-z0-9]$."""
    if (
        not isinstance(value, str)
        or not _SERVICE_ACCOUNT_ID.match(value)
        or not SERVICE_ACCOUNT_ID_MIN <= len(value) <= SERVICE_ACCOUNT_ID_MAX
    ):
        raise ArgError(
            at,
            f"{value!r} is not a valid service account id; allowed: {SERVICE_ACCOUNT_ID_MIN}-"
            f"{SERVICE_ACCOUNT_ID_MAX} characters matching ^[a-z][-a-z0-9]*[a-z0-9]$",
        )


# Cloud Storage bucket names without dots (dotted names need domain verification).
_BUCKET_NAME = re.compile(r"^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$")


def check_bucket_name(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """A Cloud Storage bucket name: 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending
    with a letter or digit, not starting with "goog" and not containing "google"."""
    if not isinstance(value, str) or not _BUCKET_NAME.match(value) or value.startswith("goog") or "google" in value:
        raise ArgError(
            at,
            f"{value!r} is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and "
            "'_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
        )


# A GCP region is <geography>-<direction><number>. The words are those of the regions Google's docs list, checked
# 2026-12-02: docs.cloud.google.com/unified-maintenance/docs/locations (asia, australia, europe, northamerica, us,
# southamerica, me; us-central2, the TPU v4 region, included) and cloud.google.com/memorystore/docs/redis/regions
# (africa-south1). A rule on words rather than a list of regions: a region Google opens in these geographies passes,
# a typo (`sd-l4`, `us-centrl1`, a cluster name in the wrong key) does not. A new geography or direction goes here.
GEOGRAPHIES = ("africa", "asia", "australia", "europe", "me", "northamerica", "southamerica", "us")
DIRECTIONS = ("central", "east", "north", "northeast", "south", "southeast", "southwest", "west")
REGION_PATTERN = rf"(?:{'|'.join(GEOGRAPHIES)})-(?:{'|'.join(DIRECTIONS)})[1-9][0-9]*"
"""A region name, for patterns that embed one (a zone is a region, '-' and a letter)."""
_REGION = re.compile(REGION_PATTERN)


def check_region(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """A GCP region name such as us-central1 (not a zone): a known geography, a direction and a number."""
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ArgError(
            at,
            f"{value!r} is not a GCP region; allowed: e.g. 'us-central1': a geography ({', '.join(GEOGRAPHIES)}), "
            f"'-', a direction ({', '.join(DIRECTIONS)}) and a number",
        )


_IMAGE_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def check_pinned_image(value: object, *, at: Sequence[PathPart] = ()) -> None:
    """An image reference pinned to a digest, or to a tag other than "latest" (a moving tag makes two rollouts of
    the same config run different code). An Output (the digest reference of an image the program builds) is pinned
    by whatever produced it, and is not known before `pulumi up`: it passes."""
    if isinstance(value, pulumi.Output):
        return
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ArgError(at, f"{value!r} is not an image reference; allowed: REPOSITORY:TAG or REPOSITORY@sha256:DIGEST")
    if _IMAGE_DIGEST.search(value):
        return
    last = value.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    if tag is None or tag == "latest":
        raise ArgError(
            at,
            f"image {value!r} is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest "
            "(REPOSITORY@sha256:DIGEST)",
        )
