# shellcheck shell=sh
# A private slapd on loopback for the directory tests; sourced after lib.sh
# as . "$top_srcdir/tests/slapd.sh" (lib.sh changes to $T).
#
#   slapd_require             skip_all unless slapd, slapadd and the
#                             ldap-utils clients are installed
#   lab_init DIR [ARGS]       smimeca -d DIR init --lab on a free port;
#                             sets LDAP_PORT, LDAP_URI; LDAP_ADMIN_PW is
#                             the rootdn password (DIR/ldap/admin.pass)
#   slapd_start DIR           starts DIR's lab slapd (smimeca lab slapd
#                             start), waits until it answers; stopped at exit
#   slapd_stop DIR            stops it (SIGTERM, waits)
#   slapd_crash DIR           SIGKILL, as a crash; the data stays
#   lab_password DIR USER     the lab password of alice, bob or carol
#   ldap_admin ARGS           ldapmodify/ldapadd options to write as rootdn
#   ldap_values DIR MAIL ATTR PREFIX
#                             writes each value of ATTR (e.g.
#                             'userCertificate;binary') of the entry with
#                             MAIL to PREFIX.1, PREFIX.2, ... and prints
#                             their count
#   ldap_add_user DIR UID [MAIL]  adds an inetOrgPerson under ou=people

LDAP_SUFFIX=dc=lab,dc=example
LDAP_PEOPLE=ou=people,$LDAP_SUFFIX
LDAP_ADMIN_DN=cn=admin,$LDAP_SUFFIX

slapd_require()
{
	for _p in slapd slapadd; do
		[ -x "/usr/sbin/$_p" ] || command -v "$_p" >/dev/null 2>&1 ||
		    skip_all "$_p not installed (apt-get install slapd)"
	done
	for _p in ldapsearch ldapmodify ldapadd; do
		command -v "$_p" >/dev/null 2>&1 ||
		    skip_all "$_p not installed (apt-get install ldap-utils)"
	done
}

lab_init()
{
	_dir=$1
	shift
	LDAP_PORT=$(free_port)
	LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
	smimeca -d "$_dir" init --lab --ldap-port "$LDAP_PORT" "$@" \
	    </dev/null >"$T/lab_init.out" 2>"$T/lab_init.err" || {
		sed 's/^/# /' "$T/lab_init.err"
		return 1
	}
	LDAP_ADMIN_PW=$(head -n 1 "$_dir/ldap/admin.pass")
}

slapd_start()
{
	smimeca -d "$1" lab slapd start </dev/null >"$T/slapd_start.out" \
	    2>"$T/slapd_start.err" || {
		sed 's/^/# /' "$T/slapd_start.err"
		[ -f "$1/ldap/slapd.log" ] && sed 's/^/# log: /' \
		    "$1/ldap/slapd.log"
		return 1
	}
	at_exit "slapd_stop '$1'"
	_i=0
	while [ $_i -lt 50 ]; do
		ldapsearch -x -H "$LDAP_URI" -b "$LDAP_SUFFIX" -s base \
		    -LLL dn >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	diag "slapd does not answer on $LDAP_URI"
	return 1
}

# Only the PID in the lab's own pidfile: never anyone else's slapd.
slapd_pid()
{
	[ -f "$1/ldap/slapd.pid" ] || return 1
	_pid=$(cat "$1/ldap/slapd.pid")
	[ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null &&
	    grep -q '^slapd' "/proc/$_pid/comm" 2>/dev/null &&
	    ! grep -Eq '^[^)]*\) [ZX]' "/proc/$_pid/stat" 2>/dev/null
}

slapd_stop()
{
	slapd_pid "$1" || return 0
	kill -TERM "$_pid" 2>/dev/null
	_i=0
	while [ $_i -lt 100 ] && slapd_pid "$1"; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

slapd_crash()
{
	slapd_pid "$1" || return 0
	kill -KILL "$_pid" 2>/dev/null
	_i=0
	while [ $_i -lt 50 ] && slapd_pid "$1"; do
		sleep 0.1
		_i=$((_i + 1))
	done
	# A killed slapd leaves its pidfile behind.
	rm -f "$1/ldap/slapd.pid"
}

lab_password()
{
	awk -v u="$2" '$1 == u { print $3 }' "$1/ldap/users.txt"
}

ldap_admin()
{
	"$@" -x -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW"
}

ldap_values()
{
	_vdir=$T/.ldapvals.$$
	rm -rf "$_vdir"
	mkdir -p "$_vdir"
	ldapsearch -x -H "$LDAP_URI" -b "$LDAP_SUFFIX" -LLL -o ldif-wrap=no \
	    -tt -T "$_vdir" \
	    "(mail=$2)" "$3" >"$_vdir/.ldif" 2>"$_vdir/.err" || {
		sed 's/^/# ldapsearch: /' "$_vdir/.err" >&2
		echo 0
		return 1
	}
	_n=0
	# Lines "attr:< file:///path", one per value.
	for _f in $(sed -n 's|^[^:]*:< file://||p' "$_vdir/.ldif"); do
		_n=$((_n + 1))
		cp "$_f" "$4.$_n"
	done
	echo "$_n"
}

ldap_add_user()
{
	_mail=${3:-$2@lab.example}
	printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Test\nmail: %s\nou: Testing\n\n' \
	    "$2" "$LDAP_PEOPLE" "$2" "$2" "$_mail" >"$T/.add.ldif"
	ldap_admin ldapadd -f "$T/.add.ldif" >/dev/null
}
