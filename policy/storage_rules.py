"""Cloud Storage buckets: private, and protected from deletion with their contents."""

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._props import at, is_unknown, subject, text

BUCKET = "gcp:storage/bucket:Bucket"
# The label a stack puts on a bucket whose contents can be rebuilt (the XLA compile cache): it may go unprotected.
CONTENTS_LABEL = "gke-tpu-serving-contents"
REGENERABLE = "regenerable-cache"


def validate_bucket_private(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET:
        return
    uniform = at(args.props, "uniformBucketLevelAccess")
    if not is_unknown(uniform) and uniform is not True:
        report_violation(
            f"{subject(args)} does not enforce uniform bucket-level access; set uniformBucketLevelAccess: true so "
            "IAM alone, not per-object ACLs, governs who reads it.",
            None,
        )
    prevention = at(args.props, "publicAccessPrevention")
    if not is_unknown(prevention) and prevention != "enforced":
        shown = f"is {prevention}" if text(prevention) else "is not set"
        report_violation(
            f"{subject(args)} does not enforce public access prevention (publicAccessPrevention {shown}); set "
            "publicAccessPrevention: enforced.",
            None,
        )


def validate_bucket_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET:
        return
    if at(args.props, "forceDestroy") is True:
        report_violation(
            f"{subject(args)} sets forceDestroy: true, so deleting the resource deletes every object in it; remove "
            "forceDestroy (empty the bucket deliberately when it must go).",
            None,
        )
    contents = at(args.props, "labels", CONTENTS_LABEL)
    if args.opts.protect or is_unknown(contents) or contents == REGENERABLE:
        return
    report_violation(
        f"{subject(args)} is not protected; set the protect resource option (GcsFuseBucket protects by default), or, "
        f"if its contents can be rebuilt, label it {CONTENTS_LABEL}: {REGENERABLE}.",
        None,
    )


POLICIES = [
    ResourceValidationPolicy(
        "storage-bucket-private",
        "Buckets enforce uniform bucket-level access and public access prevention.",
        validate=validate_bucket_private,
    ),
    ResourceValidationPolicy(
        "storage-bucket-protected",
        "Buckets are protected (the protect option) unless labelled gke-tpu-serving-contents: regenerable-cache, and "
        "no bucket sets forceDestroy.",
        validate=validate_bucket_protected,
    ),
]
