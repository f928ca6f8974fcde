// The data of adapterArena (wasi.go): 256 KiB, no pointers, starting with the marker
// "kiln-adapter-arena:v1" and a zero, which sdk/kiln-go-adapter-realloc.py looks for.

#include "textflag.h"

DATA ·adapterArena+0(SB)/8, $"kiln-ada"
DATA ·adapterArena+8(SB)/8, $"pter-are"
DATA ·adapterArena+16(SB)/8, $"na:v1\x00\x00\x00"
GLOBL ·adapterArena(SB), NOPTR, $262144
