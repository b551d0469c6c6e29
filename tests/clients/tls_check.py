"""hotset over TLS (memcached's -Z) with real TLS clients: Python's ssl
module and pymemcache over TLS. Run by tests/tls.rs:
    python tls_check.py clients TLS_PORT PLAIN_PORT CERTS_DIR
    python tls_check.py hostile TLS_PORT CERTS_DIR
    python tls_check.py refresh TLS_PORT CERTS_DIR CHAIN KEY
Exits non-zero, naming the check, at the first one that fails; prints
"ok: ..." when every check passed."""

import os
import shutil
import socket
import ssl
import sys

from pymemcache.client.base import Client

checks = 0


def check(what, got, want):
    global checks
    if got != want:
        sys.exit(f"FAIL {what}: got {got!r}, want {want!r}")
    checks += 1


def context(certs, client_cert=None):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    if client_cert:
        ctx.load_cert_chain(
            os.path.join(certs, client_cert + ".pem"), os.path.join(certs, client_cert + ".key")
        )
    return ctx


def connect(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def ask(s, req, end=b"\r\n"):
    s.sendall(req)
    buf = b""
    while not buf.endswith(end):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(f"FAIL {req[:40]!r}: closed after {buf[:80]!r}")
        buf += chunk
    return buf


def closed_soon(s, what):
    """The server closes `s`: reads end (EOF or an error) within 10 s."""
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except (ssl.SSLError, ConnectionError):
        pass
    except socket.timeout:
        sys.exit(f"FAIL {what}: still open after 10 s")
    global checks
    checks += 1


def clients(tls_port, plain_port, certs):
    ctx = context(certs)
    s = connect(tls_port, ctx)
    check("protocol", s.version() in ("TLSv1.2", "TLSv1.3"), True)
    check("set over ssl", ask(s, b"set a 3 0 5\r\nhello\r\n"), b"STORED\r\n")
    check("get over ssl", ask(s, b"get a\r\n", b"END\r\n"), b"VALUE a 3 5\r\nhello\r\nEND\r\n")
    # A value of many TLS records, each way.
    big = bytes(range(256)) * 2000
    check("big set", ask(s, b"set big 0 0 %d\r\n%s\r\n" % (len(big), big)), b"STORED\r\n")
    got = ask(s, b"get big\r\n", b"END\r\n")
    check("big get", got, b"VALUE big 0 %d\r\n%s\r\nEND\r\n" % (len(big), big))
    # Pipelined requests: more plaintext than one read takes at a time.
    n = 5000
    got = ask(s, b"get a\r\n" * n, b"END\r\n" * 1)
    while got.count(b"END\r\n") < n:
        got += s.recv(65536)
    check("pipelined gets", got, b"VALUE a 3 5\r\nhello\r\nEND\r\n" * n)
    # Under -R 1000000 (tests/tls.rs) no request budget breaks up a long
    # burst: the worker moves on after 16 reads, with plaintext still in
    # rustls, where epoll cannot see it, and must come back for it.
    n = 200000
    s.sendall(b"mn\r\n" * n)
    got = b""
    while got.count(b"MN\r\n") < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("FAIL long burst: closed")
        got += chunk
    check("long burst", len(got), 4 * n)
    # pymemcache over TLS.
    c = Client(("127.0.0.1", tls_port), tls_context=ctx, default_noreply=False, timeout=10)
    check("pymemcache set", c.set("p", b"v1", expire=0), True)
    check("pymemcache get", c.get("p"), b"v1")
    check("pymemcache get_many", c.get_many(["p", "a"]), {"p": b"v1", "a": b"hello"})
    check("pymemcache incr", (c.set("n", b"10"), c.incr("n", 5)), (True, 15))
    value, cas = c.gets("p")
    check("pymemcache cas", c.cas("p", b"v2", cas), True)
    check("pymemcache stale cas", c.cas("p", b"v3", cas), False)
    check("pymemcache delete", c.delete("p"), True)
    check("pymemcache gone", c.get("p"), None)
    check("pymemcache version", c.version().count(b"."), 2)
    c.close()
    # The plaintext listener beside it serves the same cache.
    plain = Client(("127.0.0.1", plain_port), default_noreply=False, timeout=10)
    check("notls listener", plain.get("a"), b"hello")
    settings = plain.stats("settings")
    check("ssl_enabled", settings.get(b"ssl_enabled"), b"yes")
    check("interface lists both", settings.get(b"inter").count(b","), 1)
    s.close()
    print(f"ok: {checks} checks")


def hostile(tls_port, certs):
    good_ctx = context(certs, "client")
    good = connect(tls_port, good_ctx)
    check("good client", ask(good, b"set k 0 0 2\r\nok\r\n"), b"STORED\r\n")
    # A plaintext client on the TLS port: an alert at most, then a close.
    p = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    p.sendall(b"get k\r\n")
    closed_soon(p, "plaintext on the TLS port")
    # A handshake cut short: a record header and a few bytes, then EOF.
    t = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    t.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01")
    t.shutdown(socket.SHUT_WR)
    closed_soon(t, "truncated handshake")
    # One cut short that stays open: it must not hold anyone up.
    stuck = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    stuck.sendall(b"\x16\x03\x01\x02\x00\x01")
    check("served beside a stuck handshake", ask(good, b"get k\r\n", b"END\r\n"), b"VALUE k 0 2\r\nok\r\nEND\r\n")
    # No client certificate, and one from a CA the server does not trust.
    for name, cert in [("no client certificate", None), ("an untrusted certificate", "stranger")]:
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        if cert:
            ctx.load_cert_chain(os.path.join(certs, cert + ".pem"), os.path.join(certs, cert + ".key"))
        try:
            s = connect(tls_port, ctx)
            # Under TLS 1.3 the client learns of the refusal at its first read.
            s.sendall(b"get k\r\n")
            closed_soon(s, name)
        except (ssl.SSLError, ConnectionError):
            global checks
            checks += 1
    # A Python client with a good certificate still gets in.
    again = connect(tls_port, good_ctx)
    check("new good client", ask(again, b"get k\r\n", b"END\r\n"), b"VALUE k 0 2\r\nok\r\nEND\r\n")
    # And the first connection never noticed.
    stats = ask(good, b"stats\r\n", b"END\r\n").decode()
    errors = int(stats.split("STAT ssl_handshake_errors ")[1].split("\r\n")[0])
    check("ssl_handshake_errors counts the refusals", errors >= 3, True)
    stuck.close()
    print(f"ok: {checks} checks")


def refresh(tls_port, certs, chain, key):
    ctx = context(certs)
    old = connect(tls_port, ctx)
    first = old.getpeercert(binary_form=True)
    check("before the refresh", ask(old, b"set r 0 0 1\r\n1\r\n"), b"STORED\r\n")
    shutil.copy(os.path.join(certs, "server2.pem"), chain)
    shutil.copy(os.path.join(certs, "server2.key"), key)
    check("refresh_certs", ask(old, b"refresh_certs\r\n"), b"OK\r\n")
    check("the open connection goes on", ask(old, b"get r\r\n", b"END\r\n"), b"VALUE r 0 1\r\n1\r\nEND\r\n")
    new = connect(tls_port, ctx)
    second = new.getpeercert(binary_form=True)
    check("a new connection gets the new certificate", second != first, True)
    with open(os.path.join(certs, "server2.pem")) as f:
        want = ssl.PEM_cert_to_DER_cert(f.read())
    check("it is server2's", second, want)
    # A file that does not parse: memcached's error line, and the loaded
    # certificates stay.
    with open(chain, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    reply = ask(new, b"refresh_certs\r\n")
    check("a bad file is refused", reply.startswith(b"Error "), True)
    third = connect(tls_port, ctx)
    check("the old certificates stay", third.getpeercert(binary_form=True), want)
    check("and serve", ask(third, b"get r\r\n", b"END\r\n"), b"VALUE r 0 1\r\n1\r\nEND\r\n")
    print(f"ok: {checks} checks")


mode = sys.argv[1]
if mode == "clients":
    clients(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
elif mode == "hostile":
    hostile(int(sys.argv[2]), sys.argv[3])
elif mode == "refresh":
    refresh(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
else:
    sys.exit(f"unknown mode {mode}")
