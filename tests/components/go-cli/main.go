// A WASI preview1 command in Go (GOOS=wasip1), made a component with the command adapter:
// prints its arguments and the KILN_* environment variables, the file named by KILN_FILE,
// and exits with the status given as "exit=N".
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	status := 0
	fmt.Println("hello from Go")
	fmt.Printf("argc=%d\n", len(os.Args))
	for i, a := range os.Args {
		fmt.Printf("arg[%d]=%s\n", i, a)
		if n, ok := strings.CutPrefix(a, "exit="); ok {
			status, _ = strconv.Atoi(n)
		}
	}
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "KILN_") {
			fmt.Printf("env %s\n", e)
		}
	}
	if path := os.Getenv("KILN_FILE"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Printf("file %s: cannot open\n", path)
			os.Exit(2)
		}
		fmt.Printf("file %s:\n%s", path, data)
	}
	os.Exit(status)
}
