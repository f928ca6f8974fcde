module kiln.test/gocli

go 1.21
