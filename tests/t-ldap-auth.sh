#!/bin/sh
# Directory accounts (dir_authenticate through `smimeca dir check`): a
# bind as the user's entry, found by mail or uid; a wrong password and a
# user missing from the directory are refused, each with its own reason;
# an empty password never counts; filter metacharacters stay literal.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

lab_init lab --key ec:p256 || bail_out "init --lab failed"
slapd_start lab || bail_out "the lab slapd did not start"

lab_password lab alice >alice.pw
lab_password lab bob >bob.pw
check "users.txt has alice's password" test -s alice.pw
echo "not-the-password" >wrong.pw
: >empty.pw
printf '\n' >newline.pw

run_ok -m "alice by uid with her password" \
    smimeca -d lab dir check alice --password-file alice.pw
like "$out" '^ok: uid=alice,ou=people,dc=lab,dc=example' \
    "the entry's DN is reported"
like "$out" 'mail alice@lab.example, cn Alice Example' \
    "with its mail and cn"
run_ok -m "alice by mail" \
    smimeca -d lab dir check alice@lab.example --password-file alice.pw
run_ok -m "alice by mail in other case" \
    smimeca -d lab dir check Alice@LAB.example --password-file alice.pw
like "$out" 'mail alice@lab.example' "the mail is reported lower-case"

run_exit 1 -m "alice with a wrong password" \
    smimeca -d lab dir check alice --password-file wrong.pw
like "$err" 'wrong password' "the reason is a wrong password"
unlike "$err" 'no such user' "not a missing user"
unlike "$err" 'not-the-password' "the password is not in the message"
run_exit 1 -m "alice with bob's password" \
    smimeca -d lab dir check alice@lab.example --password-file bob.pw
like "$err" 'wrong password' "bob's password is wrong for alice"
run_exit 1 -m "an empty password file" \
    smimeca -d lab dir check alice --password-file empty.pw
like "$err" 'empty password is refused' \
    "an empty password is refused (no unauthenticated bind)"
run_exit 1 -m "a password file with an empty line" \
    smimeca -d lab dir check alice --password-file newline.pw
like "$err" 'empty password is refused' "an empty line is refused too"

run_exit 1 -m "a user not in the directory" \
    smimeca -d lab dir check dave@lab.example --password-file alice.pw
like "$err" 'no such user in the directory' "the reason is a missing user"
unlike "$err" 'wrong password' "not a wrong password"
run_exit 1 -m "a wildcard matches nobody" \
    smimeca -d lab dir check 'al*' --password-file alice.pw
like "$err" 'no such user' "'al*' is no user"
like "$err" 'al\\2a' "the * is escaped in the filter (RFC 4515)"
run_exit 1 -m "a filter injection matches nobody" \
    smimeca -d lab dir check 'alice)(uid=*' --password-file alice.pw
like "$err" 'no such user' "'alice)(uid=*' is no user"

run_ok -m "dir show alice --json" smimeca -d lab dir show alice --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin)
a = d["attributes"]
print(d["dn"], a["ou"][0], "userPassword" in a)')" \
    "uid=alice,ou=people,dc=lab,dc=example Research False" \
    "dir show: DN, ou, and no userPassword"
run_ok -m "dir show bob (text)" smimeca -d lab dir show bob@lab.example
like "$out" '^title: Account Manager' "dir show prints the attributes"

# The directory down: an error, neither success nor a wrong password.
slapd_stop lab
run_exit 1 -m "dir check with the directory down" \
    smimeca -d lab dir check alice --password-file alice.pw
like "$err" "Can't contact LDAP server" "the reason is the directory"
unlike "$err" 'wrong password|no such user' "not blamed on the user"

# Without <ldap>: a clear message.
run_ok smimeca -d plain init --key ec:p256
run_exit 1 -m "dir check without a directory" \
    smimeca -d plain dir check alice --password-file alice.pw
like "$err" 'no directory is configured' "says no directory is configured"
run_exit 1 -m "publish run without a directory" \
    smimeca -d plain publish run
like "$err" 'no directory is configured|no <ldap>' \
    "publish run says so too"
mkcsr x x@lab.example
run_ok -m "issuing without a directory writes no job" \
    smimeca -d plain issue --template smime-signature --csr x.csr \
    --out x.crt
is "$(sqlite3 plain/smimeca.db 'SELECT count(*) FROM pub_jobs')" 0 \
    "no publish job without <ldap>"

done_testing
