#!/usr/bin/env bash
# Makes Debian's OCI tools available (see debian-tools.sh), only those the caller needs:
#   oci-tools.sh build   umoci (builds the image: `npm run image`)
#   oci-tools.sh push    umoci and skopeo (`npm run image -- --push ...`)
#   oci-tools.sh         umoci, skopeo and docker-registry (the registry round trip of
#                        tests/image.test.ts, which starts the registry on loopback)
umoci=umoci=/usr/bin/umoci
skopeo=skopeo=/usr/bin/skopeo
registry=docker-registry=/usr/bin/docker-registry
case "${1:-all}" in
  build) exec bash "$(dirname "$0")/debian-tools.sh" oci-tools "$umoci" ;;
  push) exec bash "$(dirname "$0")/debian-tools.sh" oci-tools "$umoci" "$skopeo" ;;
  all) exec bash "$(dirname "$0")/debian-tools.sh" oci-tools "$umoci" "$skopeo" "$registry" ;;
  *)
    echo "oci-tools.sh: expected build, push or nothing, got '$1'" >&2
    exit 64
    ;;
esac
