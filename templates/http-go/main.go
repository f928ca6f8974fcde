// An HTTP handler in Go: a plain net/http handler, registered with kiln.Handle from an init
// function (the component is a WASI reactor: main is never called). It gets an
// *http.Request whose body is the whole request body, and writes its response to an
// http.ResponseWriter. Kiln runs it in a fresh instance per request, so package variables
// do not carry over from one request to the next.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"example/{{project-name}}/kiln"
)

func init() {
	kiln.Handle(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/plain")
			if name := r.URL.Query().Get("name"); name != "" {
				fmt.Fprintf(w, "Hello, %s, from Kiln!", name)
			} else {
				fmt.Fprint(w, "Hello from Kiln!")
			}

		case r.URL.Path == "/echo" && r.Method == http.MethodPost:
			// The body back, with its content type.
			contentType := r.Header.Get("Content-Type")
			if contentType == "" {
				contentType = "text/plain"
			}
			w.Header().Set("Content-Type", contentType)
			io.Copy(w, r.Body)

		case r.URL.Path == "/headers":
			// The request's headers, as JSON (names in lower case).
			headers := map[string]string{}
			for name, values := range r.Header {
				headers[strings.ToLower(name)] = strings.Join(values, ", ")
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(headers)

		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "No route for %s %s\n", r.Method, r.URL.Path)
		}
	})
}

func main() {}
