# tcp_echo.py — a TCP echo server for the wasi:sockets tests (p2_sockets.sh, p3_sockets.sh):
# listens on 127.0.0.1 (any port, printed first), and sends each connection "echo: " and
# the bytes it read up to their end. Stops after 60 s without a connection.
import socket

s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(20)
    data = b""
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.sendall(b"echo: " + data)
    except OSError:
        pass
    c.close()
