#!/bin/sh
# smimeca audit verify and audit list: the hash chain is recomputed here
# from its documented formula, then the database is tampered with through
# sqlite3 (as an attacker with the file would) and each change is caught.
. "$(dirname "$0")/lib.sh"

mkcsr alice alice@lab.example
mkcsr bob bob@lab.example

# A CA with some history: init, two issues, a revocation, a CRL.
make_ca()
{
	smimeca -d "$1" init --key ec:p256 --name "Audit CA" &&
	    smimeca -d "$1" issue --template smime-signature \
	    --csr alice.csr --out "$1.alice.crt" >"$1.sa" &&
	    smimeca -d "$1" issue --template smime-signature \
	    --csr bob.csr --out "$1.bob.crt" >/dev/null &&
	    smimeca -d "$1" revoke "$(cat "$1.sa")" --reason keyCompromise &&
	    smimeca -d "$1" crl --out "$1.crl"
}

# Drops the triggers that keep honest code from rewriting the log.
untrigger()
{
	for tr in $(sqlite3 "$1/smimeca.db" \
	    "SELECT name FROM sqlite_master WHERE type = 'trigger'"); do
		sqlite3 "$1/smimeca.db" "DROP TRIGGER \"$tr\""
	done
	is "$(sqlite3 "$1/smimeca.db" \
	    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")" 0 \
	    "$1: triggers dropped"
}

sql()
{
	sqlite3 "$1/smimeca.db" "$2"
}

run_ok -m "init, issue x2, revoke, crl" make_ca lab || bail_out "make_ca"
rows=$(sql lab 'SELECT count(*) FROM audit')
# init writes three rows (the CA, the first exchange key, the TLS key).
is "$(sql lab 'SELECT action FROM audit ORDER BY id' | tr '\n' ' ')" \
    "init xchg-roll tls-issue issue issue revoke crl " \
    "one row per state change, in order"
is "$rows" 7 "seven audit rows"
run_exit 0 smimeca -d lab audit verify
like "$out" "audit log intact: $rows rows" "audit verify: intact, N rows"
run_ok -m "the triggers refuse an UPDATE of the audit log" \
    sh -c "! sqlite3 lab/smimeca.db \"UPDATE audit SET detail = 'x' \
        WHERE id = 1\" 2>/dev/null"
run_ok -m "the triggers refuse a DELETE from the audit log" \
    sh -c "! sqlite3 lab/smimeca.db 'DELETE FROM audit WHERE id = 1' \
        2>/dev/null"

# The chain, recomputed from the formula in ca/audit.c and smimeca(8).
sqlite3 -json lab/smimeca.db 'SELECT * FROM audit ORDER BY id' >rows.json
py_tap rows.json <<'EOF'
rows = json.load(open(sys.argv[1]))
def ns(v):
    b = str(v).encode()
    return str(len(b)).encode() + b":" + b + b","
prev, bad = "0" * 64, []
for r in rows:
    h = hashlib.sha256(prev.encode() + ns(r["id"]) + ns(r["ts"]) +
                       ns(r["actor"]) + ns(r["action"]) + ns(r["object"]) +
                       ns(r["detail"])).hexdigest()
    if r["prev_hash"] != prev or r["hash"] != h:
        bad.append(r["id"])
    prev = r["hash"]
check(not bad, "every row's hash is sha256(prev, netstrings of its fields)",
      bad)
check([r["id"] for r in rows] == list(range(1, len(rows) + 1)),
      "ids are 1..N")
acts = " ".join(r["action"] for r in rows).lower()
for a in ("init", "issue", "revoke", "crl"):
    check(a in acts, "an audit row for " + a, acts)
EOF
run_ok smimeca -d lab audit list --json
printf '%s\n' "$out" >list.json
py_tap list.json "$rows" <<'EOF'
data = json.load(open(sys.argv[1]))
check(isinstance(data, list) and len(data) == int(sys.argv[2]),
      "audit list --json: one object per row", len(data))
check(all(isinstance(o, dict) for o in data), "objects")
EOF
run_ok smimeca -d lab audit list
is "$(printf '%s\n' "$out" | grep -c .)" "$rows" \
    "audit list prints a line per row"
is "$(printf '%s\n' "$out" | awk '{ print $1 }' | tr '\n' ' ')" \
    "1 2 3 4 5 6 7 " "audit list: rows 1 to 7 in order"

# --- a changed row ---
untrigger lab
sql lab "UPDATE audit SET detail = detail || ' (edited)' WHERE id = 2"
like "$(sql lab 'SELECT detail FROM audit WHERE id = 2')" 'edited' \
    "row 2 changed through sqlite3"
run_exit 1 -m "audit verify catches a changed row" smimeca -d lab audit verify
ilike "$out$err" 'row 2([^0-9]|$)' "it names row 2"
sql lab "UPDATE audit SET detail = replace(detail, ' (edited)', '') \
    WHERE id = 2"
run_exit 0 -m "undoing the change makes the log intact again" \
    smimeca -d lab audit verify

# --- a deleted middle row ---
run_ok -m "a fresh CA (mid)" make_ca mid
untrigger mid
sql mid 'DELETE FROM audit WHERE id = 3'
run_exit 1 -m "audit verify catches a deleted middle row" \
    smimeca -d mid audit verify
ilike "$out$err" 'row 3([^0-9]|$)' "it names row 3"

# --- a deleted last row ---
run_ok -m "a fresh CA (tail)" make_ca tail
untrigger tail
last=$(sql tail 'SELECT max(id) FROM audit')
sql tail "DELETE FROM audit WHERE id = $last"
run_exit 1 -m "audit verify catches a deleted last row" \
    smimeca -d tail audit verify
ilike "$out$err" "row $last([^0-9]|\$)" "it names row $last"

# --- a forged row with a made-up hash ---
run_ok -m "a fresh CA (forge)" make_ca forge
untrigger forge
last=$(sql forge 'SELECT max(id) FROM audit')
lh=$(sql forge "SELECT hash FROM audit WHERE id = $last")
sql forge "INSERT INTO audit(id, ts, actor, action, object, detail, \
    prev_hash, hash) VALUES($last + 1, strftime('%s','now'), 'admin', \
    'revoke', 'deadbeef', 'forged', '$lh', \
    '$(printf '%064d' 7)')"
run_exit 1 -m "audit verify catches a forged row" \
    smimeca -d forge audit verify
ilike "$out$err" "row $((last + 1))([^0-9]|\$)" "it names row $((last + 1))"

# --- a forged row whose hash links correctly: only the head catches it ---
run_ok -m "a fresh CA (forge2)" make_ca forge2
untrigger forge2
last=$(sql forge2 'SELECT max(id) FROM audit')
lh=$(sql forge2 "SELECT hash FROM audit WHERE id = $last")
id=$((last + 1))
ts=$(date +%s)
h=$("$PY" -c '
import hashlib, sys
def ns(v):
    b = v.encode()
    return str(len(b)).encode() + b":" + b + b","
a = sys.argv[1:]
print(hashlib.sha256(a[0].encode() + b"".join(ns(x) for x in a[1:]))
      .hexdigest())' "$lh" "$id" "$ts" admin revoke cafe forged)
sql forge2 "INSERT INTO audit(id, ts, actor, action, object, detail, \
    prev_hash, hash) VALUES($id, $ts, 'admin', 'revoke', 'cafe', 'forged', \
    '$lh', '$h')"
run_exit 1 -m "audit verify catches a well-linked forged row (the head)" \
    smimeca -d forge2 audit verify
ilike "$out$err" "row $id([^0-9]|\$)" "it names row $id"

# --- a middle row replaced by a re-hashed one: the next link breaks ---
run_ok -m "a fresh CA (rehash)" make_ca rehash
untrigger rehash
eval "$(sql rehash "SELECT 'ts=' || ts || ' prev=' || prev_hash FROM audit \
    WHERE id = 2")"
h=$("$PY" -c '
import hashlib, sys
def ns(v):
    b = v.encode()
    return str(len(b)).encode() + b":" + b + b","
a = sys.argv[1:]
print(hashlib.sha256(a[0].encode() + b"".join(ns(x) for x in a[1:]))
      .hexdigest())' "$prev" 2 "$ts" admin issue cafe rewritten)
sql rehash "UPDATE audit SET actor = 'admin', action = 'issue', \
    object = 'cafe', detail = 'rewritten', hash = '$h' WHERE id = 2"
run_exit 1 -m "audit verify catches a rewritten and re-hashed row" \
    smimeca -d rehash audit verify
ilike "$out$err" 'row [23]([^0-9]|$)' "it names row 3 (or 2)"

done_testing
