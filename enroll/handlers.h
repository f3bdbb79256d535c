/* The route handlers: EST (est.c), distribution and health (pub.c). */
#ifndef ENROLL_HANDLERS_H
#define ENROLL_HANDLERS_H

struct req;
struct resp;

void est_cacerts(struct req *, struct resp *);
void est_simpleenroll(struct req *, struct resp *);
void est_simplereenroll(struct req *, struct resp *);
void est_csrattrs(struct req *, struct resp *);
void est_serverkeygen(struct req *, struct resp *);
void est_fullcmc(struct req *, struct resp *);

void pub_exchange(struct req *, struct resp *);
void pub_ca_cert(struct req *, struct resp *);
void pub_chain(struct req *, struct resp *);
void pub_crl(struct req *, struct resp *);
void pub_healthz(struct req *, struct resp *);
void pub_metrics(struct req *, struct resp *);

/* OCSP (enroll/ocsp.c); the refresher thread of pre-produced responses. */
struct srv;
struct ca_err;
void ocsp_http_post(struct req *, struct resp *);
void ocsp_http_get(struct req *, struct resp *);
int ocsp_http_start(struct srv *, struct ca_err *);
void ocsp_http_stop(void);
/* SCEP (scep.c): every SCEP path; ?operation= says what. */
void scep_serve(struct req *, struct resp *);

#endif
