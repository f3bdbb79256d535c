/* smimecad's one route table. */
#include "ac-config.h"

#include <stddef.h>

#include "enroll/daemon.h"
#include "enroll/handlers.h"
#include "enroll/http.h"

#define EST(op)	"/.well-known/est/" op

/* EST (RFC 7030) over HTTPS; what is signed anyway over plain HTTP too. */
const struct route http_routes[] = {
	{ "GET", EST("cacerts"), ROUTE_EST, est_cacerts, "est_cacerts" },
	{ "POST", EST("simpleenroll"), ROUTE_EST, est_simpleenroll,
	    "est_simpleenroll" },
	{ "POST", EST("simplereenroll"), ROUTE_EST, est_simplereenroll,
	    "est_simplereenroll" },
	{ "GET", EST("csrattrs"), ROUTE_EST, est_csrattrs, "est_csrattrs" },
	{ "POST", EST("serverkeygen"), ROUTE_EST, est_serverkeygen,
	    "est_serverkeygen" },
	{ "POST", EST("fullcmc"), ROUTE_EST, est_fullcmc, "est_fullcmc" },
	{ "GET", "/ca/exchange", ROUTE_PLAIN, pub_exchange, "ca_exchange" },
	{ "GET", "/ca/ca.crt", ROUTE_PLAIN, pub_ca_cert, "ca_cert" },
	{ "GET", "/ca/chain.p7c", ROUTE_PLAIN, pub_chain, "ca_chain" },
	{ "GET", "/crl/", ROUTE_PLAIN | ROUTE_PREFIX, pub_crl, "crl" },
	{ "GET", "/healthz", ROUTE_PLAIN, pub_healthz, "healthz" },
	{ "GET", "/metrics", ROUTE_PLAIN, pub_metrics, "metrics" },
	/* OCSP (RFC 6960 appendix A): POST to the URL, GET below it. */
	{ "POST", "/ocsp", ROUTE_PLAIN, ocsp_http_post, "ocsp_post" },
	{ "POST", "/ocsp/", ROUTE_PLAIN, ocsp_http_post, "ocsp_post_dir" },
	{ "GET", "/ocsp/", ROUTE_PLAIN | ROUTE_PREFIX, ocsp_http_get,
	    "ocsp_get" },
	/* SCEP (RFC 8894) protects itself with CMS: plain HTTP too. */
	{ "GET", "/scep", ROUTE_PLAIN, scep_serve, "scep_get" },
	{ "POST", "/scep", ROUTE_PLAIN, scep_serve, "scep_post" },
	{ "GET", "/scep/", ROUTE_PLAIN | ROUTE_PREFIX, scep_serve,
	    "scep_tpl_get" },
	{ "POST", "/scep/", ROUTE_PLAIN | ROUTE_PREFIX, scep_serve,
	    "scep_tpl_post" },
	{ "GET", "/cgi-bin/pkiclient.exe", ROUTE_PLAIN, scep_serve,
	    "scep_cgi_get" },
	{ "POST", "/cgi-bin/pkiclient.exe", ROUTE_PLAIN, scep_serve,
	    "scep_cgi_post" },
	{ "GET", "/certsrv/mscep/mscep.dll", ROUTE_PLAIN | ROUTE_PREFIX,
	    scep_serve, "scep_ndes_get" },
	{ "POST", "/certsrv/mscep/mscep.dll", ROUTE_PLAIN | ROUTE_PREFIX,
	    scep_serve, "scep_ndes_post" },
	{ NULL, NULL, 0, NULL, NULL }
};

size_t
http_routes_count(void)
{
	return sizeof(http_routes) / sizeof(http_routes[0]) - 1;
}
