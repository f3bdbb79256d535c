/*
 * smimeca mdm connector and mdm device: lab stand-ins for what an MDM's
 * certificate connector and a managed device do with export intune's
 * userPFXCertificate objects; mdm scep-challenge: the Intune-style SCEP
 * challenge that binds a request to its names (ca/mdmchal.h).
 */
#include "ac-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "archive/intune.h"
#include "archive/mdm.h"
#include "ca/ca.h"
#include "ca/err.h"
#include "ca/mdmchal.h"
#include "ca/util.h"
#include "tools/cli.h"

#define JSON_IN_MAX	(256 * 1024 * 1024)

static int cmd_mdm_connector(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_mdm_device(const struct cli_cmd *, struct cli *, int,
    char **);
static int cmd_mdm_scep_challenge(const struct cli_cmd *, struct cli *, int,
    char **);

const struct cli_cmd cli_mdm_cmds[] = {
	{ "mdm", "connector", cmd_mdm_connector, "--import-key PRIV.pem "
	    "--device-cert DEV.crt [--device-ca CA.pem] --in USER.json "
	    "--out FOR-DEVICE.json" },
	{ "mdm", "device", cmd_mdm_device, "--device-key DEV.key --in "
	    "FOR-DEVICE.json --out DIR [--password-file F] [--legacy]" },
	{ "mdm", "scep-challenge", cmd_mdm_scep_challenge, "--template T "
	    "--email MAIL [--device NAME] [--subject /CN=...] [--ttl 60m] "
	    "[--json]" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_mdm_connector(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "import-key", required_argument, NULL, 'i' },
		{ "device-cert", required_argument, NULL, 'c' },
		CLI_OPT_DEVICE_CA,
		{ "in", required_argument, NULL, 'I' },
		CLI_OPT_OUT,
		CLI_OPT_END
	};
	const char *keyf = NULL, *certf = NULL, *caf = NULL, *in = NULL;
	const char *out = NULL;
	char *chain = NULL, *owner = NULL;
	struct ca_err err;
	EVP_PKEY *key = NULL;
	X509 *dev = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, i;
	json_t *res = NULL;
	struct ca *ca = NULL;
	int ch, own_ca, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': keyf = optarg; break;
		case 'c': certf = optarg; break;
		case 'C': caf = optarg; break;
		case 'I': in = optarg; break;
		case 'o': out = optarg; break;
		default: return cli_usage(me);
		}
	}
	if (optind != argc || keyf == NULL || certf == NULL || in == NULL ||
	    out == NULL)
		return cli_usage(me);
	own_ca = caf == NULL;
	if (cli_device_ca(cli, &caf, &chain, &err) != 0 ||
	    util_read_cert(certf, &dev, &err) != 0 ||
	    mdm_check_device_cert(dev, caf, (int64_t)time(NULL),
	    &err) != 0)
		goto out;
	/* The device CA is this CA: its database knows revoked devices. */
	if (own_ca) {
		if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
			goto out;
		rc = CLI_FAIL;
		if (mdm_check_device_record(ca, dev, NULL, &owner, &err) != 0)
			goto out;
	}
	if (ca_read_key(keyf, NULL, &key, &err) != 0 ||
	    util_read_file(in, JSON_IN_MAX, &buf, &len, &err) != 0)
		goto out;
	if (intune_connector((char *)buf, len, key, dev, &res, &err) != 0) {
		ca_err_set(&err, err.code, "%s: nothing written", in);
		goto out;
	}
	/*
	 * A device an account enrolled gets that account's keys only, as
	 * Intune delivers a user's PFX to that user's devices.
	 */
	for (i = 0; owner != NULL && i < json_array_size(res); i++)
		if (mdm_check_key_for_owner(ca, json_string_value(
		    json_object_get(json_array_get(res, i), "thumbprint")),
		    owner, &err) != 0) {
			ca_err_set(&err, err.code, "%s, object %zu: nothing "
			    "written", in, i + 1);
			goto out;
		}
	if (cli_write_json(out, res, &err) != 0)
		goto out;
	printf("wrote %s (%zu PFX password%s re-encrypted to the device "
	    "certificate)\n", out, json_array_size(res),
	    json_array_size(res) == 1 ? "" : "s");
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	json_decref(res);
	free(buf);
	free(chain);
	free(owner);
	EVP_PKEY_free(key);
	X509_free(dev);
	ca_close(ca);
	return rc;
}

static int
cmd_mdm_device(const struct cli_cmd *me, struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device-key", required_argument, NULL, 'k' },
		{ "in", required_argument, NULL, 'I' },
		CLI_OPT_OUT,
		CLI_OPT_PASSWORD_FILE,
		CLI_OPT_LEGACY,
		CLI_OPT_END
	};
	const char *keyf = NULL, *in = NULL;
	struct cli_out o = { NULL, NULL, NULL, 0 };
	struct ca_err err;
	EVP_PKEY *dkey = NULL, *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, i;
	char *pw = NULL, *path = NULL;
	const char *thumb;
	json_t *arr = NULL;
	json_error_t je;
	int ch, rc = CLI_FAIL;

	ca_err_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (cli_out_opt(&o, ch, optarg))
			continue;
		switch (ch) {
		case 'k': keyf = optarg; break;
		case 'I': in = optarg; break;
		default: return cli_usage(me);
		}
	}
	if (optind != argc || keyf == NULL || in == NULL || o.out == NULL)
		return cli_usage(me);
	if (ca_read_key(keyf, NULL, &dkey, &err) != 0 ||
	    util_read_file(in, JSON_IN_MAX, &buf, &len, &err) != 0 ||
	    cli_read_pass(o.password_file, NULL, 0, &pw, &err) != 0)
		goto out;
	if ((arr = json_loadb((char *)buf, len, 0, &je)) == NULL ||
	    !json_is_array(arr) || json_array_size(arr) == 0) {
		ca_err_set(&err, CA_ERR_INVALID, "%s: not the connector's "
		    "output (a JSON array of objects; %s)", in,
		    arr == NULL ? je.text : "no array, or an empty one");
		goto out;
	}
	if (cli_mkdir_out(o.out, &err) != 0)
		goto out;
	for (i = 0; i < json_array_size(arr); i++) {
		if (intune_device_open(json_array_get(arr, i), dkey, NULL, &key,
		    &cert, &chain, &err) != 0) {
			ca_err_set(&err, err.code, "%s: object %zu", in, i + 1);
			goto out;
		}
		thumb = json_string_value(json_object_get(json_array_get(arr,
		    i), "thumbprint"));
		if ((path = cli_file_name(o.out, thumb, ".p12")) == NULL) {
			ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (cli_write_p12(path, key, cert, chain, pw, o.legacy,
		    &err) != 0)
			goto out;
		free(path);
		path = NULL;
		EVP_PKEY_free(key);
		key = NULL;
		X509_free(cert);
		cert = NULL;
		sk_X509_pop_free(chain, X509_free);
		chain = NULL;
	}
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	json_decref(arr);
	free(buf);
	free(path);
	util_free_secret(pw);
	EVP_PKEY_free(dkey);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static int
cmd_mdm_scep_challenge(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 'T' },
		{ "email", required_argument, NULL, 'e' },
		{ "device", required_argument, NULL, 'd' },
		{ "subject", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		CLI_OPT_JSON,
		CLI_OPT_END
	};
	struct mdmchal_req req;
	struct mdmchal_claims c;
	struct ca_err err;
	struct ca *ca = NULL;
	char *email = NULL, *chal = NULL, when[21];
	int64_t id = 0, now = (int64_t)time(NULL);
	int ch, json = 0, rc = CLI_FAIL;

	ca_err_clear(&err);
	memset(&req, 0, sizeof(req));
	req.ttl = 3600;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'T': req.tpl = optarg; break;
		case 'e': req.email = optarg; break;
		case 'd': req.device = optarg; break;
		case 's': req.subject = optarg; break;
		case 'j': json = 1; break;
		case 't':
			if (cli_parse_ttl(optarg, &req.ttl) != 0) {
				cli_warnx("--ttl %s: give seconds or a number "
				    "with m, h, d or w (at most a year), e.g. "
				    "60m", optarg);
				return CLI_USAGE;
			}
			break;
		default: return cli_usage(me);
		}
	}
	if (optind != argc || req.tpl == NULL || req.email == NULL)
		return cli_usage(me);
	if ((email = strdup(req.email)) == NULL) {
		cli_warnx("out of memory");
		return CLI_FAIL;
	}
	util_lower(email);
	req.email = email;
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (mdmchal_issue(ca, &req, now, &chal, &id, &err) != 0 ||
	    mdmchal_decode(chal, NULL, &c, &err) != 0)
		goto out;
	util_iso8601(c.expires, when);
	if (json) {
		rc = cli_json_print_steal(json_pack("{s:s, s:I, s:s, s:s, "
		    "s:s, s:s?, s:s}", "challenge", chal, "id", (json_int_t)id,
		    "template", c.tpl, "email", c.email, "subject", c.subject,
		    "device", *c.device != '\0' ? c.device : NULL, "expires",
		    when));
		goto out;
	}
	printf("%s\n", chal);
	fprintf(stderr, "SCEP challenge %lld, single use until %s: template "
	    "%s, subject %s, rfc822Name %s%s%s; a request for any other "
	    "names is refused\n", (long long)id, when, c.tpl, c.subject,
	    c.email, *c.device != '\0' ? ", device " : "", c.device);
	rc = CLI_OK;
 out:
	if (rc != CLI_OK)
		cli_print_err(&err);
	util_free_secret(chal);
	free(email);
	ca_close(ca);
	return rc;
}
