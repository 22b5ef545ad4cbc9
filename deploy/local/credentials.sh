#!/usr/bin/env bash
# What a farm reached beyond loopback needs (docs/security.md): a private certificate authority,
# a certificate for the coordinator and sweepfarm-serve under the names and addresses clients
# reach them by, and one token per role.
#   deploy/local/credentials.sh DIR [NAME_OR_IP...]
# (default names: localhost, 127.0.0.1 and this host's name). Writes into DIR (made 0700; files
# already there are kept, so running it again changes nothing):
#   ca.pem                  the authority's certificate: every client's --tls-ca
#   ca.key                  its key: keep it offline once the certificates are made
#   server.pem, server.key  the coordinator's and sweepfarm-serve's --tls-cert and --tls-key
#   tokens                  the servers' --auth-token-file: one line per holder, TOKEN NAME ROLE
#   ROLE.token              one client token file per role (admin, operator, worker, reader,
#                           labeller, serve): hand each to whoever needs that role
# and prints the flags each program takes. Needs openssl.
set -euo pipefail
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  echo "usage: $0 DIR [NAME_OR_IP...]" >&2
  exit 2
fi
dir=$1
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1 "$(hostname -f 2>/dev/null || hostname)")
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
roles=(admin operator worker reader labeller serve)

if [ ! -s ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=sweepfarm private CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  echo "credentials: made a private certificate authority ($dir/ca.pem)"
fi
if [ ! -s server.pem ]; then
  san=""
  for n in "${names[@]}"; do
    if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="${san:+,}IP:$n"; else san+="${san:+,}DNS:$n"; fi
  done
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=sweepfarm ${names[0]}" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" \
    >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile server.ext -out server.pem 2>/dev/null
  rm -f server.csr server.ext ca.srl
  echo "credentials: made the servers' certificate for $san ($dir/server.pem)"
fi
if [ ! -s tokens ]; then
  {
    echo "# TOKEN NAME ROLE, one line per holder (docs/security.md); made by credentials.sh"
    for role in "${roles[@]}"; do
      token=$(openssl rand -hex 32)
      echo "$token $role $role"
      printf '%s\n' "$token" >"$role.token"
    done
  } >tokens
  echo "credentials: made one token per role (${roles[*]}) in $dir/tokens and $dir/ROLE.token"
fi
abs=$(pwd)
cat <<EOF
coordinator:      --tls-cert $abs/server.pem --tls-key $abs/server.key --auth-token-file $abs/tokens
workers:          --tls-ca $abs/ca.pem --auth-token-file $abs/worker.token
sweepctl:         --tls-ca $abs/ca.pem --auth-token-file $abs/operator.token (or admin, reader, labeller)
sweepfarm-serve:  --tls-cert $abs/server.pem --tls-key $abs/server.key --tls-ca $abs/ca.pem --auth-token-file $abs/serve.token
EOF
