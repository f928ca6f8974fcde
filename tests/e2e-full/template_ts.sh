#!/usr/bin/env bash
# The http-ts template end to end (make test-full: the build takes ~15 s and the first
# compile of the JavaScript engine ~50 s of CPU): kiln new http-ts, kiln build (jco strips
# the types and bundles, then componentize-js), kiln up, then the fetch handler's routes;
# then a second TypeScript app with other code, whose compiled engine must come from the
# cache.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/template.inc"

template_serve http-ts hello-ts
template_second_app http-ts other-ts src/index.ts 4
finish
