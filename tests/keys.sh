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
