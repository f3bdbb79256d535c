# shellcheck shell=bash
# Debian packages smimeca needs to build and test; sourced by ./run-tests and
# ./quickstart (bash). deps_ensure installs what is missing when run as root,
# else names the apt-get command to run and fails.

SMIMECA_DEPS="build-essential autoconf automake libtool pkg-config
libssl-dev openssl libsqlite3-dev sqlite3 libmicrohttpd-dev libgnutls28-dev libxml2-dev
libxml2-utils libldap2-dev libjansson-dev libcurl4-openssl-dev python3
python3-cryptography curl xxd
gpgsm gpg-agent libnss3-tools ldap-utils slapd faketime
strongswan-pki libstrongswan-extra-plugins golang-cfssl
scep certmonger dbus"

# Prints the packages of SMIMECA_DEPS that are not installed, one per line.
deps_missing()
{
	local p
	for p in $SMIMECA_DEPS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q '^install ok installed$' || echo "$p"
	done
}

# Installs the missing packages (root), or says how to (not root: fails).
deps_ensure()
{
	local missing policy_rc=/usr/sbin/policy-rc.d made_policy=0 rc=0

	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "note: not a Debian system; install by hand what" \
		    "README.md lists under Building" >&2
		return 0
	fi
	missing=$(deps_missing | tr '\n' ' ')
	missing=${missing% }
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages: $missing" >&2
		echo "install them as root with:" >&2
		echo "  apt-get install -y $missing" >&2
		return 1
	fi
	echo "installing missing Debian packages: $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	case " $missing " in
	*" slapd "*)
		# No system directory: the tests start their own slapd.
		echo "slapd slapd/no_configuration boolean true" |
		    debconf-set-selections 2>/dev/null || true
		# Nor a running system daemon: policy-rc.d forbids starts.
		if [ ! -e "$policy_rc" ]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy_rc" &&
			    chmod 755 "$policy_rc" && made_policy=1
		fi
		;;
	esac
	if ! apt-get update -qq; then
		echo "apt-get update failed" >&2
		rc=1
	else
		# shellcheck disable=SC2086 # one word per package
		if ! apt-get install -y -qq --no-install-recommends $missing
		then
			echo "apt-get install $missing failed" >&2
			rc=1
		fi
	fi
	[ "$made_policy" = 1 ] && rm -f "$policy_rc"
	return $rc
}
