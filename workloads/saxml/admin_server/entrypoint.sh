#!/bin/sh
# The Sax admin server's entrypoint: writes the cell's configuration (admin_config; rewriting it is harmless), then
# runs the admin server in its place. The environment is that of Saxml's own admin image, so a pod spec written for
# us-docker.pkg.dev/cloud-tpu-images/inference/sax-admin-server works unchanged:
#   GSBUCKET        the state bucket: SAX_ROOT defaults to gs://GSBUCKET/sax-root, FS_ROOT to gs://GSBUCKET/sax-fs-root
#   SAX_ROOT        where the admin server keeps its state and address (model servers and clients read it there)
#   FS_ROOT         the cell's file system root
#   SAX_CELL        the cell it administers (/sax/test)
#   PORT            its gRPC port (10000)
# Arguments are passed on to admin_server.
set -eu

if [ -n "${GSBUCKET:-}" ]; then
  SAX_ROOT="${SAX_ROOT:-gs://${GSBUCKET}/sax-root}"
  FS_ROOT="${FS_ROOT:-gs://${GSBUCKET}/sax-fs-root}"
fi
: "${SAX_ROOT:?set GSBUCKET (the state bucket) or SAX_ROOT (gs://BUCKET/sax-root)}"
: "${FS_ROOT:?set GSBUCKET (the state bucket) or FS_ROOT (gs://BUCKET/sax-fs-root)}"
SAX_CELL="${SAX_CELL:-/sax/test}"

admin_config --sax_cell="${SAX_CELL}" --sax_root="${SAX_ROOT}" --fs_root="${FS_ROOT}" --alsologtostderr
exec admin_server --sax_cell="${SAX_CELL}" --sax_root="${SAX_ROOT}" --port="${PORT:-10000}" --alsologtostderr "$@"
