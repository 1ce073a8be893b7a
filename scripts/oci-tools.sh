#!/usr/bin/env bash
# Makes Debian's OCI tools available for `npm run image` and the registry round trip
# (tests/image.test.ts): umoci (builds the image), skopeo (pushes it), docker-registry (the
# local registry the test starts on loopback); see debian-tools.sh.
exec bash "$(dirname "$0")/debian-tools.sh" oci-tools umoci=/usr/bin/umoci skopeo=/usr/bin/skopeo docker-registry=/usr/bin/docker-registry
