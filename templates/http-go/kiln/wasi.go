// The wasi:http and wasi:io imports this package uses, declared by hand with the canonical
// ABI's flattening of their WIT signatures (at wasiVersion), and the allocator the host
// calls to return lists and strings (cabi_realloc).
//
// Results that do not fit in one core value are written by the host to a return area
// passed as the last argument, laid out as records of 32-bit words (wasm32 pointers and
// lengths are 4 bytes). Every return area and every buffer handed to the host lives on the
// Go heap, never on a goroutine stack: the host may call cabi_realloc (Go code) during an
// import, and a growing stack would move.
//
// The component's type is not here: sdk/kiln-build.sh embeds the world
// `include wasi:http/proxy@0.2.12` and adapts the WASI preview1 reactor.

package kiln

import "unsafe"

// wasiVersion is the version of the WASI interfaces in every import and export below.
const wasiVersion = "0.2.12"

// A resource handle (own or borrow); 0 is never a valid one.
type handle = uint32

// method: variant (tag u8 at 0; `other` string at 4, 8)
//
//go:wasmimport wasi:http/types@0.2.12 [method]incoming-request.method
func reqMethod(self handle, ret unsafe.Pointer)

// option<string>: tag at 0, string at 4, 8
//
//go:wasmimport wasi:http/types@0.2.12 [method]incoming-request.path-with-query
func reqPathWithQuery(self handle, ret unsafe.Pointer)

// option<string>: tag at 0, string at 4, 8
//
//go:wasmimport wasi:http/types@0.2.12 [method]incoming-request.authority
func reqAuthority(self handle, ret unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.12 [method]incoming-request.headers
func reqHeaders(self handle) handle

// result<own<incoming-body>>: tag at 0, handle at 4
//
//go:wasmimport wasi:http/types@0.2.12 [method]incoming-request.consume
func reqConsume(self handle, ret unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]incoming-request
func reqDrop(self handle)

// result<own<input-stream>>: tag at 0, handle at 4
//
//go:wasmimport wasi:http/types@0.2.12 [method]incoming-body.stream
func inBodyStream(self handle, ret unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]incoming-body
func inBodyDrop(self handle)

//go:wasmimport wasi:http/types@0.2.12 [constructor]fields
func fieldsNew() handle

// list<tuple<string, list<u8>>>: pointer at 0, count at 4; items of 16 bytes
//
//go:wasmimport wasi:http/types@0.2.12 [method]fields.entries
func fieldsEntries(self handle, ret unsafe.Pointer)

// result<_, header-error>: tag at 0, error case (u8) at 1
//
//go:wasmimport wasi:http/types@0.2.12 [method]fields.append
func fieldsAppend(self handle, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32, ret unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]fields
func fieldsDrop(self handle)

//go:wasmimport wasi:http/types@0.2.12 [constructor]outgoing-response
func respNew(headers handle) handle

// result<_, _> as 0 / 1
//
//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-response.set-status-code
func respSetStatus(self handle, status uint32) uint32

// result<own<outgoing-body>>: tag at 0, handle at 4
//
//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-response.body
func respBody(self handle, ret unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]outgoing-response
func respDrop(self handle)

// result<own<output-stream>>: tag at 0, handle at 4
//
//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-body.write
func outBodyWrite(self handle, ret unsafe.Pointer)

// (body, option<own<trailers>> as tag + handle) -> result<_, error-code> (40-byte area)
//
//go:wasmimport wasi:http/types@0.2.12 [static]outgoing-body.finish
func outBodyFinish(self handle, hasTrailers uint32, trailers handle, ret unsafe.Pointer)

// (outparam, result<own<outgoing-response>, error-code> flattened): the ok case is the tag
// 0 and the handle; the other seven values belong to error-code and are zero.
//
//go:wasmimport wasi:http/types@0.2.12 [static]response-outparam.set
func outparamSet(outparam handle, isErr uint32, response handle, e1 uint32, e2 uint64, e3, e4, e5, e6 uint32)

// result<list<u8>, stream-error>: tag at 0; ok: list at 4, 8; err: stream-error tag at 4
// (0 last-operation-failed with own<error> at 8, 1 closed)
//
//go:wasmimport wasi:io/streams@0.2.12 [method]input-stream.blocking-read
func inRead(self handle, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.12 [resource-drop]input-stream
func inDrop(self handle)

// result<_, stream-error>: tag at 0, stream-error as above at 4 and 8
//
//go:wasmimport wasi:io/streams@0.2.12 [method]output-stream.blocking-write-and-flush
func outWriteFlush(self handle, data unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.12 [resource-drop]output-stream
func outDrop(self handle)

//go:wasmimport wasi:io/error@0.2.12 [resource-drop]error
func errorDrop(self handle)

// adapterArena is the memory of the WASI preview1 adapter's own state and stack: the
// adapter cannot take it from cabi_realloc (Go code, which cannot run before the Go runtime
// is initialised, and the runtime's initialisation makes the first WASI calls) nor with
// memory.grow (Go's heap would grow over it). It is defined in arena_wasm.s, as static data
// whose first bytes are a marker: sdk/kiln-go-adapter-realloc.py finds it there and gives
// the module a cabi_realloc_adapter export that allocates from it. Go never reads or writes
// it.
var adapterArena [256 << 10]byte

// checkArena panics when adapterArena has lost its marker (the adapter wrote past its
// region, or the data moved); the export calls it, which also keeps the arena in the
// binary (the linker drops what no code refers to).
func checkArena() {
	if adapterArena[0] != 'k' || adapterArena[1] != 'i' {
		panic("kiln: the WASI adapter's memory region lost its marker")
	}
}

// retArea is the return area of an import: large enough and aligned for every result
// above. One is enough (a handler runs one import at a time); it is a package variable so
// that it never moves.
type retArea [6]uint64

var ret = new(retArea)

func (r *retArea) ptr() unsafe.Pointer { return unsafe.Pointer(r) }

// word returns the 32-bit word at byte offset off.
func (r *retArea) word(off uintptr) uint32 {
	return *(*uint32)(unsafe.Add(unsafe.Pointer(r), off))
}

// byteAt returns the byte at offset off (a variant's tag).
func (r *retArea) byteAt(off uintptr) uint8 {
	return *(*uint8)(unsafe.Add(unsafe.Pointer(r), off))
}

// hostBytes is the guest memory [ptr, ptr+n) that the host filled (through cabi_realloc):
// valid until release().
func hostBytes(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

// scratchSize bounds what one import returns through cabi_realloc: a request's header
// block, its method or its path with query, or one read of its body (readBody asks for at
// most 64 KiB at a time). A request whose headers take more makes cabiRealloc trap (a 500).
const scratchSize = 256 << 10

// scratch is the memory cabiRealloc hands out, allocated when the package is initialised:
// cabiRealloc cannot allocate from the Go heap, since an allocation may call an import
// (nanotime, for a new span) and the host forbids imports from within cabi_realloc.
var scratch = make([]byte, scratchSize)

// scratchUsed is how much of scratch the current import's results take.
var scratchUsed uintptr

// cabiRealloc is the canonical ABI's allocator: the host calls it (during an import) to
// place the lists and strings it returns. It bump-allocates from scratch; a zero-size
// request gets a non-null, aligned, unusable address, as the ABI allows; a request that
// does not fit traps.
//
//go:wasmexport cabi_realloc
func cabiRealloc(old unsafe.Pointer, oldSize, align, newSize uint32) uint32 {
	if align == 0 {
		align = 1
	}
	if newSize == 0 {
		return align
	}
	base := uintptr(unsafe.Pointer(&scratch[0]))
	p := (base + scratchUsed + uintptr(align) - 1) &^ (uintptr(align) - 1)
	if p+uintptr(newSize) > base+uintptr(len(scratch)) {
		panic("kiln: the host returned more than the scratch area holds")
	}
	if old != nil && oldSize > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), newSize), unsafe.Slice((*byte)(old), min(oldSize, newSize)))
	}
	scratchUsed = p + uintptr(newSize) - base
	return uint32(p)
}

// release frees what cabiRealloc handed out (its contents must have been copied).
func release() { scratchUsed = 0 }
