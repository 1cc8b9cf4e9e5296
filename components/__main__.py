"""Hosts the gke-tpu-serving components as a Pulumi provider (schema inferred from their typed args)."""

from pulumi.provider.experimental import component_provider_host

from gke_tpu_serving import COMPONENTS, PACKAGE_NAME, __version__

if __name__ == "__main__":
    # Without a version the host publishes 0.0.0, and generated SDKs would carry that instead of the package's.
    component_provider_host(components=COMPONENTS, name=PACKAGE_NAME, version=__version__)
