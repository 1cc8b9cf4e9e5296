"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs."""
