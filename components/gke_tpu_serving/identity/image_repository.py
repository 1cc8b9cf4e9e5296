"""ImageRepository: the Artifact Registry repository that holds the workload images, with repository-level grants."""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from gke_tpu_serving.errors import ArgError, component_errors, require_int
from gke_tpu_serving.names import check_dns_label, check_region

READER_ROLE = "roles/artifactregistry.reader"
WRITER_ROLE = "roles/artifactregistry.writer"
_REPOSITORY_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class ImageRepositoryArgs(TypedDict):
    """Arguments of ImageRepository."""

    project: pulumi.Input[str]
    """GCP project id."""
    location: str
    """Region of the repository; put it beside the clusters so image pulls stay in-region."""
    repository_id: NotRequired[str]
    """Repository id. Default: gke-tpu-serving."""
    readers: NotRequired[dict[str, pulumi.Input[str]]]
    """IAM members that pull images (the clusters' node service accounts), by a short name that names the grant
    (DNS-1123 label). Default: none."""
    writers: NotRequired[dict[str, pulumi.Input[str]]]
    """IAM members that push images (the CI workflow's service account), by name. Default: none."""
    keep_recent_versions: NotRequired[int]
    """Versions of each image kept by the cleanup policy; older untagged ones are deleted. Default: 20."""


def _validate(args: ImageRepositoryArgs) -> None:
    check_region(args.get("location"), at=("location",))
    repository_id = args.get("repository_id", "gke-tpu-serving")
    if not isinstance(repository_id, str) or not _REPOSITORY_ID.match(repository_id):
        raise ArgError(
            ("repository_id",),
            f"{repository_id!r} is not a repository id; allowed: 1-63 lowercase letters, digits and '-', starting "
            "with a letter and not ending with '-'",
        )
    for key, grants in (("readers", args.get("readers") or {}), ("writers", args.get("writers") or {})):
        for grant in grants:
            check_dns_label(grant, at=(key, grant))
    require_int(("keep_recent_versions",), args.get("keep_recent_versions", 20), minimum=1)


class ImageRepository(pulumi.ComponentResource):
    """A Docker repository in Artifact Registry for the images CI builds from workloads/: immutable tags (a tag is a
    git SHA and never moves), a cleanup policy, and reader/writer roles granted on the repository only."""

    url: pulumi.Output[str]
    """LOCATION-docker.pkg.dev/PROJECT/REPOSITORY: prefix of every image in it."""

    def __init__(self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:ImageRepository", name, None, opts)
        with component_errors("ImageRepository", name):
            _validate(args)
        repository_id = args.get("repository_id", "gke-tpu-serving")
        location = args["location"]
        repository = gcp.artifactregistry.Repository(
            f"{name}-repository",
            gcp.artifactregistry.RepositoryArgs(
                project=args["project"],
                location=location,
                repository_id=repository_id,
                format="DOCKER",
                description="Workload images of gke-tpu-serving, built by CI from workloads/",
                docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
                cleanup_policies=[
                    gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                        id="keep-recent",
                        action="KEEP",
                        most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                            keep_count=args.get("keep_recent_versions", 20)
                        ),
                    ),
                    gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                        id="delete-old-untagged",
                        action="DELETE",
                        condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                            tag_state="UNTAGGED", older_than="2592000s"
                        ),
                    ),
                ],
            ),
            # Deployed images are pulled from here by digest: losing the repository would break every rollout.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        for role, members in ((READER_ROLE, args.get("readers") or {}), (WRITER_ROLE, args.get("writers") or {})):
            for grant, member in members.items():
                gcp.artifactregistry.RepositoryIamMember(
                    f"{name}-{grant}-{role.rsplit('.', 1)[1]}",
                    gcp.artifactregistry.RepositoryIamMemberArgs(
                        project=args["project"],
                        location=location,
                        repository=repository.repository_id,
                        role=role,
                        member=member,
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
        self.url = pulumi.Output.concat(location, "-docker.pkg.dev/", args["project"], "/", repository.repository_id)
        self.register_outputs({"url": self.url})
