// Package kiln serves a Go net/http handler as a WebAssembly component of the
// wasi:http/proxy world: the component exports wasi:http/incoming-handler.handle, which
// Kiln, Spin, `wasmtime serve` and `jco serve` run.
//
//	func init() {
//		kiln.Handle(func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintln(w, "Hello")
//		})
//	}
//	func main() {}
//
// For each request the export (wasiHandle):
//  1. reads the method, the path with its query, the authority, the headers and the
//     whole body of the incoming-request into an *http.Request;
//  2. calls the handler with a ResponseWriter that buffers the response;
//  3. sends it: an outgoing-response with the headers (names in lower case) and the status,
//     handed to the response-outparam, then the body written with
//     blocking-write-and-flush in pieces of at most 4096 bytes (the most that call
//     accepts), then the body finished.
//
// As net/http's server does, a response without Content-Type gets one sniffed from its
// body (http.DetectContentType), and a handler that writes nothing answers 200 with no
// body. A panic in the handler becomes a 500 naming it; the panic goes to stderr (Kiln's
// log). Kiln runs each request in a fresh instance, so package variables do not carry
// state from one request to the next.
//
// The program is built as a WASI reactor (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared):
// main() is never called, the handler is registered by an init function.
package kiln

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"unsafe"
)

var handler http.Handler

// Handle makes f the component's HTTP handler. Call it from an init function.
func Handle(f func(http.ResponseWriter, *http.Request)) { handler = http.HandlerFunc(f) }

// Serve makes h the component's HTTP handler (an http.ServeMux, for instance). Call it
// from an init function.
func Serve(h http.Handler) { handler = h }

// responseWriter is the http.ResponseWriter of one request: it buffers the response,
// which wasiHandle sends when the handler returns.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// wasiHandle is the export wasi:http/incoming-handler.handle: one request, one response.
//
//go:wasmexport wasi:http/incoming-handler@0.2.12#handle
func wasiHandle(request, responseOut handle) {
	checkArena()
	req, err := readRequest(request)
	reqDrop(request)
	w := &responseWriter{header: http.Header{}}
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "kiln: reading the request: %v\n", err)
		w.status = http.StatusBadRequest
		w.header.Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(&w.body, "Bad request: %v\n", err)
	case handler == nil:
		w.status = http.StatusInternalServerError
		w.header.Set("Content-Type", "text/plain; charset=utf-8")
		w.body.WriteString("No handler: call kiln.Handle in an init function\n")
	default:
		serve(w, req)
	}
	send(w, responseOut)
}

// serve runs the handler on req; a panic replaces whatever it wrote with a 500.
func serve(w *responseWriter, req *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "kiln: the handler panicked: %v\n%s", p, debug.Stack())
			w.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
			w.status = http.StatusInternalServerError
			w.body.Reset()
			fmt.Fprintf(&w.body, "Internal Server Error: %v\n", p)
		}
	}()
	handler.ServeHTTP(w, req)
}

// hostString reads a string the host returned at words off and off+4 of the return area.
func hostString(off uintptr) string {
	s := string(hostBytes(ret.word(off), ret.word(off+4)))
	release()
	return s
}

var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// readRequest turns the incoming-request into an *http.Request (borrowing it: the caller
// drops it), its body read whole.
func readRequest(request handle) (*http.Request, error) {
	reqMethod(request, ret.ptr())
	method := "GET"
	if tag := ret.byteAt(0); int(tag) < len(methods) {
		method = methods[tag]
	} else {
		method = hostString(4)
	}
	uri := "/"
	if reqPathWithQuery(request, ret.ptr()); ret.byteAt(0) == 1 {
		uri = hostString(4)
	}
	host := "localhost"
	if reqAuthority(request, ret.ptr()); ret.byteAt(0) == 1 {
		host = hostString(4)
	}
	header := readFields(reqHeaders(request))
	body, err := readBody(request)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, "http://"+host+uri, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	req.Host = host
	req.RequestURI = uri
	req.ContentLength = int64(len(body))
	return req, nil
}

// readFields copies the entries of a fields resource (and drops it); repeated names keep
// every value, in order.
func readFields(fields handle) http.Header {
	fieldsEntries(fields, ret.ptr())
	h := http.Header{}
	items := hostBytes(ret.word(0), ret.word(4)*16)
	for i := 0; i+16 <= len(items); i += 16 {
		w := (*[4]uint32)(unsafe.Pointer(&items[i]))
		h.Add(string(hostBytes(w[0], w[1])), string(hostBytes(w[2], w[3])))
	}
	release()
	fieldsDrop(fields)
	return h
}

// readBody reads the request's body whole, with blocking-read until the stream is closed.
func readBody(request handle) ([]byte, error) {
	reqConsume(request, ret.ptr())
	if ret.byteAt(0) != 0 {
		return nil, nil // already consumed: no body to read
	}
	body := ret.word(4)
	defer inBodyDrop(body)
	inBodyStream(body, ret.ptr())
	if ret.byteAt(0) != 0 {
		return nil, fmt.Errorf("the request body has no stream")
	}
	stream := ret.word(4)
	defer inDrop(stream)
	var out []byte
	for {
		inRead(stream, 65536, ret.ptr())
		if ret.byteAt(0) == 0 {
			out = append(out, hostBytes(ret.word(4), ret.word(8))...)
			release()
			continue
		}
		if ret.byteAt(4) == 1 {
			return out, nil // closed: the end of the body
		}
		errorDrop(ret.word(8))
		return nil, fmt.Errorf("reading the request body failed")
	}
}

// send hands the response to the response-outparam and writes its body.
func send(w *responseWriter, responseOut handle) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	fields := fieldsNew()
	for name, values := range w.header {
		lname := []byte(strings.ToLower(name))
		for _, v := range values {
			value := []byte(v)
			fieldsAppend(fields, bytesPtr(lname), uint32(len(lname)), bytesPtr(value), uint32(len(value)), ret.ptr())
			if ret.byteAt(0) != 0 {
				fmt.Fprintf(os.Stderr, "kiln: response header %q refused by the host\n", name)
			}
		}
	}
	resp := respNew(fields)
	if respSetStatus(resp, uint32(w.status)) != 0 {
		fmt.Fprintf(os.Stderr, "kiln: status %d refused by the host; sending 500\n", w.status)
		respSetStatus(resp, http.StatusInternalServerError)
	}
	respBody(resp, ret.ptr())
	if ret.byteAt(0) != 0 {
		respDrop(resp)
		return
	}
	body := ret.word(4)
	outparamSet(responseOut, 0, resp, 0, 0, 0, 0, 0, 0)
	outBodyWrite(body, ret.ptr())
	if ret.byteAt(0) == 0 {
		stream := ret.word(4)
		data := w.body.Bytes()
		for len(data) > 0 {
			n := min(len(data), 4096)
			outWriteFlush(stream, bytesPtr(data), uint32(n), ret.ptr())
			if ret.byteAt(0) != 0 {
				if ret.byteAt(4) == 0 {
					errorDrop(ret.word(8))
				}
				break // the client went away
			}
			data = data[n:]
		}
		outDrop(stream)
	}
	outBodyFinish(body, 0, 0, ret.ptr())
}

// bytesPtr is the address of b's first byte (b is on the heap: a slice's array escapes).
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}
