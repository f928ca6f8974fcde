#!/usr/bin/env bash
# The http-go template end to end, in make test: new_langs.sh has already paid the first Go
# build of net/http for GOOS=wasip1, and the ~6 MB component's fast tier takes about 2 s of
# CPU since wasm2c no longer sees Go's 58,350 data segments (it took 32 s):
# kiln new http-go, kiln build (go build GOOS=wasip1 -buildmode=c-shared, then jco), kiln
# up, then the handler's routes (GET and POST with the body echoed, headers, status). No
# second-app case: unlike JavaScript or Python, a Go app's own code is compiled into the
# module's code, so a second app is compiled anew (seconds, as the first).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../e2e-full/template.inc"

template_serve http-go hello-go
finish
