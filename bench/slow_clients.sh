#!/usr/bin/env bash
# The coordinator's metrics and dashboard server under slow clients (issue 21): N connections
# (default 200) each send half a request line and then nothing, or dribble a header a byte every
# 200 ms; meanwhile a well-behaved client scrapes /metrics ten times a second. Prints how many
# scrapes were answered while the slow clients were connected and their latency (median, p99,
# max), and what each slow client got and after how long. Private PostgreSQL unless --db DSN.
#   bench/slow_clients.sh [--db DSN] [--clients N]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=""; CLIENTS=200
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    *) echo "slow_clients.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=${BUILD_DIR:-build}
[ -x "$B/coordinator/sweepfarm-coordinator" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin slow_clients
farm_database
farm_coordinator --metrics-listen 127.0.0.1:0 --metrics-address-file "$RUN/metrics" --dashboard
METRICS=$(farm_address metrics coordinator.log)
python3 - "$METRICS" "$CLIENTS" <<'P'
import socket, statistics, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
port, n = int(port), int(sys.argv[2])
outcomes = []  # (kind, status line, seconds until the server answered or closed)
lock = threading.Lock()

def slow(kind):
    start = time.monotonic()
    s = socket.create_connection((host, port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost" if kind == "silent" else b"GET / HTTP/1.1\r\nX-Long: ")
    s.settimeout(0.2 if kind == "dribble" else 120)
    got = b""
    while time.monotonic() - start < 120:
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        except socket.timeout:
            try:
                s.sendall(b"a")
            except OSError:
                break
        except OSError:
            break
    with lock:
        outcomes.append((kind, got.split(b"\r\n", 1)[0].decode() or "(closed unanswered)",
                         time.monotonic() - start))
    s.close()

threads = [threading.Thread(target=slow, args=("silent" if i % 2 else "dribble",)) for i in range(n)]
start = time.monotonic()
for t in threads:
    t.start()
scrapes = []
while any(t.is_alive() for t in threads):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        scrapes.append((data.startswith(b"HTTP/1.1 200"), time.monotonic() - t0))
    except OSError:
        scrapes.append((False, time.monotonic() - t0))
    time.sleep(0.1)
for t in threads:
    t.join()
wall = time.monotonic() - start
ok = [d for good, d in scrapes if good]
print("%d slow clients (half silent, half dribbling), all ended in %.1f s" % (n, wall))
by = {}
for kind, status, secs in outcomes:
    by.setdefault((kind, status), []).append(secs)
for (kind, status), secs in sorted(by.items()):
    print("  %-8s %-32s %4d  after %.1f-%.1f s" % (kind, status, len(secs), min(secs), max(secs)))
ok.sort()
p99 = ok[min(len(ok) - 1, int(0.99 * len(ok)))] if ok else float("nan")
print("scrapes of /metrics meanwhile: %d of %d answered 200; latency median %.3f s, p99 %.3f s, max %.3f s"
      % (len(ok), len(scrapes), statistics.median(ok) if ok else float("nan"), p99, ok[-1] if ok else float("nan")))
P
