# testca.sh — a throwaway certificate authority for tests with a TLS upstream (sourced after
# tests/lib.sh). `testca DIR` writes DIR/ca.pem (the CA: trust it with SSL_CERT_FILE or
# curl --cacert) and DIR/server.pem + DIR/server.key (a certificate for IP 127.0.0.1
# signed by it), valid for two days. Returns non-zero when openssl fails.
testca() {
    mkdir -p "$1" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Kiln test CA" \
            -keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$1/server.key" \
            -out "$1/server.csr" 2>/dev/null &&
        printf 'subjectAltName=IP:127.0.0.1\n' >"$1/ext.cnf" &&
        openssl x509 -req -in "$1/server.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
            -CAcreateserial -days 2 -extfile "$1/ext.cnf" -out "$1/server.pem" 2>/dev/null
}
