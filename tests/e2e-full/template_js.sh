#!/usr/bin/env bash
# The http-js template end to end (make test-full: the build takes ~15 s and the first
# compile of the JavaScript engine ~50 s of CPU): kiln new http-js, kiln build (jco
# componentize), kiln up, then the fetch handler's routes; then a second JavaScript app
# with other code (a fetch-event listener), whose compiled engine must come from the cache.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/template.inc"

template_serve http-js hello-js
# The second app uses the service-worker form (addEventListener), which works too.
cat >"$TMP/worker.js" <<'JS'
addEventListener('fetch', (event) => event.respondWith(new Response('Another app')));
JS
template_second_app http-js other-js src/index.js 4 "$TMP/worker.js"
finish
