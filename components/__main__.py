"""Hosts the gke-tpu-serving components as a Pulumi provider (schema inferred from their typed args)."""

from pulumi.provider.experimental import component_provider_host

from gke_tpu_serving import COMPONENTS, PACKAGE_NAME

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name=PACKAGE_NAME)
