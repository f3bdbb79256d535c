# tests/keys.sh: key, certificate and PKCS#12 helpers of the escrow,
# recovery and MDM export tests; sourced right after lib.sh (POSIX sh).
#
#   officer_pw N              officer N's PKCS#12 password, from
#                             $T/officers/passwords.txt (init --lab)
#   fp CERT ALG               CERT's fingerprint (ALG sha1, sha256, ...) as
#                             lower-case hex without colons
#   keydigest NAME            stdin (a DER private key) as its SHA-256, or
#                             "unreadable:NAME" when it is empty (so two
#                             failures never compare equal)
#   keyhex PEM                the private key of a PEM file, as the digest of
#                             its PKCS#8 DER: equal keys, equal strings
#   p12key P12 PASSIN         the key of a PKCS#12 file, as keyhex prints it
#   p12cert P12 PASSIN ALG    the fingerprint of its own (client) certificate,
#                             as fp prints it
#   enroll DIR MAIL CN        an offline archival request (smimeca-enroll
#                             --archive --xchg xchg.pem) to DIR, issued by
#                             the CA in ./lab under smime-encryption to
#                             DIR.crt: two results; the serial in $serial
#   fmode FILE                the mode string of ls -l, e.g. -rw-------
#   gpgsm_home                a private GNUPGHOME in $T/gnupg with loopback
#                             pinentry and no CRL checks, its gpg-agent
#                             started now (not raced at autostart under
#                             load) and killed at exit
#   gpgsm_b ARGS              gpgsm in batch mode, the passphrase from $T/pw
#   gpgsm_import DESC P12 PWFILE MAKE...  gpgsm --import of P12, up to
#                             three tries, MAKE writing a fresh P12 before
#                             each retry; every file gpgsm rejected is kept
#                             as P12.rejected-N and must open in openssl and
#                             NSS pk12util (when installed); one result for
#                             the import with the tries it took (also in
#                             $gpgsm_tries)

officer_pw()
{
	awk -v f="officer$1.p12" '$1 == f { sub(/^[^ ]+ /, ""); print; exit }' \
	    "$T/officers/passwords.txt"
}

fp()
{
	openssl x509 -in "$1" -noout -fingerprint "-$2" 2>/dev/null |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

keydigest()
{
	local _tap_kd

	_tap_kd=$(od -An -tx1 | tr -d ' \n')
	if [ -n "$_tap_kd" ]; then
		printf '%s' "$_tap_kd" | openssl dgst -sha256 -r | cut -d' ' -f1
	else
		printf 'unreadable:%s\n' "$1"
	fi
}

keyhex()
{
	openssl pkey -in "$1" -outform DER 2>/dev/null | keydigest "$1"
}

p12key()
{
	openssl pkcs12 -in "$1" -passin "$2" -nodes -nocerts 2>/dev/null |
	    openssl pkey -outform DER 2>/dev/null | keydigest "$1"
}

p12cert()
{
	openssl pkcs12 -in "$1" -passin "$2" -nokeys -clcerts 2>/dev/null |
	    openssl x509 -noout -fingerprint "-$3" 2>/dev/null |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

enroll()
{
	serial=
	run_ok -m "smimeca-enroll --archive for $2 ($1)" \
	    smimeca-enroll --out-dir "$1" --email "$2" --cn "$3" --archive \
	    --xchg xchg.pem || return 1
	run_ok -m "issue smime-encryption for $2 ($1)" \
	    smimeca -d lab issue --template smime-encryption \
	    --archival-request "$1/request.cmc" --out "$1.crt" || return 1
	serial=$out
}

fmode()
{
	ls -ld "$1" | cut -c1-10
}

gpgsm_home()
{
	GNUPGHOME=$T/gnupg
	export GNUPGHOME
	mkdir -m 700 "$GNUPGHOME"
	printf 'allow-loopback-pinentry\n' >"$GNUPGHOME/gpg-agent.conf"
	printf 'disable-crl-checks\n' >"$GNUPGHOME/gpgsm.conf"
	at_exit 'gpgconf --kill gpg-agent >/dev/null 2>&1'
	gpgconf --launch gpg-agent >/dev/null 2>&1 ||
	    gpg-connect-agent /bye >/dev/null 2>&1 || true
}

gpgsm_b()
{
	gpgsm --batch --pinentry-mode loopback --passphrase-fd 3 "$@" 3<"$T/pw"
}

# gpgsm 2.2.40 now and then rejects a correct 3DES key bag ("data error at
# shrouded_key_bag.decrypted-text"). A retry with a fresh file hides that,
# but would hide a defect of our own PKCS#12 just as well: so each rejected
# file is kept and read by two other implementations.
gpgsm_import()
{
	local _tap_desc _tap_p12 _tap_pw _tap_try _tap_kept _tap_done

	_tap_desc=$1
	_tap_p12=$2
	_tap_pw=$3
	shift 3
	_tap_try=1
	_tap_done=no
	while :; do
		run_cmd gpgsm_b --import "$_tap_p12"
		if [ "$rc" -eq 0 ] && printf '%s\n' "$err" |
		    grep -q 'secret keys imported: *1'; then
			_tap_done=yes
			break
		fi
		_tap_kept=$_tap_p12.rejected-$_tap_try
		cp "$_tap_p12" "$_tap_kept"
		diag "gpgsm import try $_tap_try of $_tap_p12 failed:" \
		    "$(printf '%s\n' "$err" | grep -m1 -i 'error')" \
		    "(kept as $_tap_kept)"
		check "$_tap_desc: openssl reads the file gpgsm rejected" \
		    openssl pkcs12 -in "$_tap_kept" -passin "file:$_tap_pw" \
		    -nodes -noout
		if command -v pk12util >/dev/null 2>&1; then
			check "$_tap_desc: NSS pk12util lists it too" \
			    pk12util -l "$_tap_kept" -w "$_tap_pw"
		fi
		[ "$_tap_try" -lt 3 ] || break
		_tap_try=$((_tap_try + 1))
		run_cmd "$@"
		if [ "$rc" -ne 0 ]; then
			not_ok "$_tap_desc: a fresh PKCS#12 for try $_tap_try" \
			    "exit $rc" "$err"
			break
		fi
	done
	gpgsm_tries=$_tap_try
	if [ "$_tap_done" = yes ]; then
		ok "$_tap_desc (try $_tap_try of 3)"
	else
		not_ok "$_tap_desc (3 tries)" "$err"
	fi
}
