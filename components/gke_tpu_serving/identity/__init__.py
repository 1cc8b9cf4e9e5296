"""Google identities and storage for workloads: Workload Identity, GCS FUSE buckets, the image repository."""
