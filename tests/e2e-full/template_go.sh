#!/usr/bin/env bash
# The http-go template end to end (make test-full: the first Go build of net/http for
# GOOS=wasip1 takes a minute or two, the first compile of the ~6 MB component ~50 s of CPU):
# kiln new http-go, kiln build (go build GOOS=wasip1 -buildmode=c-shared, then jco), kiln
# up, then the handler's routes (GET and POST with the body echoed, headers, status). No
# second-app case: unlike JavaScript or Python, a Go app's own code is compiled into the
# module's code, so a second app is compiled anew.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/template.inc"

template_serve http-go hello-go
finish
