#!/bin/sh
# Bad input: each case exits 1 (2 for usage errors) with a short error on
# stderr naming the input, and leaves the database as it was.
. "$(dirname "$0")/lib.sh"

run_ok smimeca -d lab init --key ec:p256 || bail_out "init failed"
mkcsr good good@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr good.csr \
    --out good.crt
counts=$(db_counts lab)
like "$counts" '^1 [0-9]+ [0-9]+ $' "one certificate in the database"

# Checks that the last command's stderr is a short message naming $1.
short_error()
{
	ilike "$err" "$1" "$2: the message names $1"
	_lines=$(printf '%s\n' "$err" | grep -c .)
	if [ "$_lines" -ge 1 ] && [ "$_lines" -le 3 ]; then
		ok "$2: one short message ($_lines lines)"
	else
		not_ok "$2: one short message" "$_lines lines:" "$err"
	fi
	is "$(db_counts lab)" "$counts" "$2: the database is unchanged"
}

# --- a template with an unknown element ---
sed -e 's/name="smime-signature"/name="broken"/' -e '/<purpose>/a\
  <frobnicate/>' "$top_srcdir/etc/templates/smime-signature.xml" \
    >lab/templates/broken.xml
check "lab/templates/broken.xml names itself broken" \
    grep -q 'name="broken"' lab/templates/broken.xml
run_exit 1 -m "issue --template broken (unknown element) fails" \
    smimeca -d lab issue --template broken --csr good.csr --out broken.crt
short_error 'broken\.xml' "broken template"
like "$err" 'broken\.xml:[0-9]+' "broken template: file:line"
check "no certificate written for the broken template" test ! -s broken.crt
rm -f lab/templates/broken.xml

# --- a missing CA directory ---
run_exit 1 -m "cert list on a missing CA directory fails" \
    smimeca -d "$T/nonexistent" cert list
ilike "$err" 'init' "missing CA: the message mentions smimeca init"
ilike "$err" 'nonexistent' "missing CA: the message names the directory"
check "the missing directory was not created" test ! -e "$T/nonexistent"
mkdir -m 700 emptydir
run_exit 1 -m "issue into an empty directory fails" \
    smimeca -d emptydir issue --template smime-signature --csr good.csr
ilike "$err" 'init' "empty directory: the message mentions smimeca init"
check "nothing was created in it" test -z "$(ls -A emptydir)"

# --- a CA key readable by others ---
chmod 0644 lab/private/ca.key
run_exit 1 -m "issue with a CA key readable by others fails" \
    smimeca -d lab issue --template smime-signature --csr good.csr \
    --email other@lab.example --out perm.crt
ilike "$err" 'permission|readable|too open' \
    "readable key: the message is about permissions"
short_error 'ca\.key' "readable key"
run_exit 1 -m "crl with a CA key readable by others fails" \
    smimeca -d lab crl --out perm.crl
is "$(db_counts lab)" "$counts" "readable key (crl): the database is unchanged"
chmod 0600 lab/private/ca.key
run_ok -m "after chmod 600 issue works again" \
    smimeca -d lab issue --template smime-signature --csr good.csr \
    --email other@lab.example --out perm.crt
counts=$(db_counts lab)

# --- usage errors and unknown names ---
run_exit 2 -m "an unknown command is a usage error" smimeca -d lab frobnicate
ilike "$err" 'frobnicate' "unknown command: the message names it"
run_exit 2 -m "a command group without its subcommand" smimeca -d lab publish
like "$err" 'smimeca publish run' "it lists the group's subcommands"
run_exit 2 -m "an unknown subcommand" smimeca -d lab export frob
like "$err" 'no subcommand "frob"' "the message names it"
like "$err" 'smimeca export mobileconfig' "and lists the right ones"
run_exit 0 -m "a command's --help" smimeca export intune --help
like "$out" '^usage: smimeca .*export intune .*--import-key' \
    "--help prints the command's usage on stdout"
run_exit 2 -m "issue without --template is a usage error" \
    smimeca -d lab issue --csr good.csr
ilike "$err" 'template' "missing --template: the message says so"
run_exit 2 -m "issue without --csr is a usage error" \
    smimeca -d lab issue --template smime-signature
run_exit 2 -m "an unknown option is a usage error" \
    smimeca -d lab issue --template smime-signature --csr good.csr --frob
run_exit 2 -m "smimeca without a command is a usage error" smimeca -d lab
run_exit 2 -m "revoke without --reason is a usage error" \
    smimeca -d lab revoke 0123456789abcdef0123456789abcdef
is "$(db_counts lab)" "$counts" "usage errors: the database is unchanged"
run_ok -m "--help exits 0" smimeca --help
run_ok -m "--version exits 0" smimeca --version
like "$out" '[0-9]+\.[0-9]+' "--version prints a version"

run_ok -m "after all that, the audit log is intact" smimeca -d lab audit verify

done_testing
