"""Pure builders of the pod pieces the workload components share: security contexts, exposure, secrets, GCS FUSE
mounts, accelerator placement."""
