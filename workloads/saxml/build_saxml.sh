#!/usr/bin/env bash
# Builds Saxml targets from the pinned Saxml release in a fresh Docker build stage, as Saxml's own
# saxml/tools/docker/Dockerfile.dev does: on python:3.10 (Debian, with git, curl, unzip and a C++ toolchain), with
# Bazel 6.4.0; Bazel fetches Go, protobuf, TensorFlow's sources and the Python wheels itself. The three Saxml images
# share this file, so the admin server, the model servers and the Python client come from one Saxml commit.
#
#   build_saxml.sh BAZEL_BUILD_ARGUMENTS...     e.g. build_saxml.sh //saxml/bin:admin_server
#
# Leaves the checkout in /saxml, the outputs under /saxml/bazel-bin/. Another release: pass both SAXML_VERSION and
# SAXML_COMMIT (docker build --build-arg ...); the build stops if the tag is not that commit.
set -euo pipefail

# v1.2.0 (2024-02-20) is Saxml's latest release and the one the GKE Saxml tutorial's images are built from. Later
# commits on main exist (to 2026-07) but are not released: move to one deliberately, with a smoke run on a v5e slice.
saxml_version="${SAXML_VERSION:-v1.2.0}"
saxml_commit="${SAXML_COMMIT:-be31b49b1f8ae03e2c296bfb2f945e7ad471c5e9}"
bazel_version=6.4.0
bazel_sha256=79e4f370efa6e31717b486af5d9efd95864d0ef13da138582224ac9b2a1bad86
# Saxml's requirements lock (v1.2.0) pins numpy 1.25.2; its Dockerfile.dev installs numpy into the build's Python too.
numpy_version=1.25.2

curl -fsSL --retry 3 -o /usr/local/bin/bazel \
  "https://github.com/bazelbuild/bazel/releases/download/${bazel_version}/bazel-${bazel_version}-linux-x86_64"
echo "${bazel_sha256}  /usr/local/bin/bazel" | sha256sum --check --strict
chmod 0755 /usr/local/bin/bazel
python3 -m pip install --no-cache-dir "numpy==${numpy_version}"
git clone --quiet --depth 1 --branch "${saxml_version}" https://github.com/google/saxml.git /saxml
checked_out="$(git -C /saxml rev-parse HEAD)"
if [[ "${checked_out}" != "${saxml_commit}" ]]; then
  echo "build_saxml.sh: Saxml ${saxml_version} is commit ${checked_out}, expected ${saxml_commit}" >&2
  exit 1
fi

# Saxml's Dockerfile.dev sets this for Bazel's pip installs (the deprecated `sklearn` name refuses to install without).
export SKLEARN_ALLOW_DEPRECATED_SKLEARN_PACKAGE_INSTALL=True
cd /saxml
bazel build "$@"
