/* CMC (RFC 5272) and Microsoft CMC extension types as OpenSSL ASN1 types. */
#ifndef ARCHIVE_CMC_ASN1_H
#define ARCHIVE_CMC_ASN1_H

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>

/* Object identifiers ([MS-WCCE], RFC 5272). */
#define OID_CCT_PKIDATA		"1.3.6.1.5.5.7.12.2"
#define OID_CCT_PKIRESPONSE	"1.3.6.1.5.5.7.12.3"
#define OID_CMC_STATUS_INFO	"1.3.6.1.5.5.7.7.1"
#define OID_MS_CMC_ADD_ATTRS	"1.3.6.1.4.1.311.10.10.1"
#define OID_MS_ARCHIVED_KEY	"1.3.6.1.4.1.311.21.13"
#define OID_MS_ENC_KEY_HASH	"1.3.6.1.4.1.311.21.21"
#define OID_MS_ISSUED_CERT_HASH	"1.3.6.1.4.1.311.21.17"
#define OID_MS_KP_CA_EXCHANGE	"1.3.6.1.4.1.311.21.5"
#define OID_MS_KP_KRA		"1.3.6.1.4.1.311.21.6"

/* TaggedAttribute ::= SEQUENCE { bodyPartID, attrType, attrValues SET OF ANY } */
typedef struct cmc_tagged_attr_st {
	ASN1_INTEGER *body_part_id;
	ASN1_OBJECT *type;
	STACK_OF(ASN1_TYPE) *values;
} CMC_TAGGED_ATTR;
DECLARE_ASN1_FUNCTIONS(CMC_TAGGED_ATTR)
DEFINE_STACK_OF(CMC_TAGGED_ATTR)

/* TaggedCertificationRequest ::= SEQUENCE { bodyPartID, CertificationRequest } */
typedef struct cmc_tcr_st {
	ASN1_INTEGER *body_part_id;
	X509_REQ *req;
} CMC_TCR;
DECLARE_ASN1_FUNCTIONS(CMC_TCR)

/* OtherReqMsg ::= SEQUENCE { bodyPartID, requestMessageType, value ANY } */
typedef struct cmc_orm_st {
	ASN1_INTEGER *body_part_id;
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} CMC_ORM;
DECLARE_ASN1_FUNCTIONS(CMC_ORM)

/* TaggedRequest ::= CHOICE { tcr [0], crm [1] (kept as opaque), orm [2] } */
#define CMC_TR_TCR	0
#define CMC_TR_CRM	1
#define CMC_TR_ORM	2
typedef struct cmc_tagged_req_st {
	int type;
	union {
		CMC_TCR *tcr;
		ASN1_SEQUENCE_ANY *crm;
		CMC_ORM *orm;
	} d;
} CMC_TAGGED_REQ;
DECLARE_ASN1_FUNCTIONS(CMC_TAGGED_REQ)
DEFINE_STACK_OF(CMC_TAGGED_REQ)

/* TaggedContentInfo / OtherMsg: kept as { bodyPartID, ANY ... }. */
typedef struct cmc_tagged_ci_st {
	ASN1_INTEGER *body_part_id;
	ASN1_TYPE *content_info;
} CMC_TAGGED_CI;
DECLARE_ASN1_FUNCTIONS(CMC_TAGGED_CI)
DEFINE_STACK_OF(CMC_TAGGED_CI)

typedef struct cmc_other_msg_st {
	ASN1_INTEGER *body_part_id;
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} CMC_OTHER_MSG;
DECLARE_ASN1_FUNCTIONS(CMC_OTHER_MSG)
DEFINE_STACK_OF(CMC_OTHER_MSG)

/* PKIData ::= SEQUENCE { controlSequence, reqSequence, cmsSequence, otherMsgSequence } */
typedef struct cmc_pkidata_st {
	STACK_OF(CMC_TAGGED_ATTR) *controls;
	STACK_OF(CMC_TAGGED_REQ) *reqs;
	STACK_OF(CMC_TAGGED_CI) *cms;
	STACK_OF(CMC_OTHER_MSG) *other;
} CMC_PKIDATA;
DECLARE_ASN1_FUNCTIONS(CMC_PKIDATA)

/* PKIResponse ::= SEQUENCE { controlSequence, cmsSequence, otherMsgSequence } */
typedef struct cmc_pkiresponse_st {
	STACK_OF(CMC_TAGGED_ATTR) *controls;
	STACK_OF(CMC_TAGGED_CI) *cms;
	STACK_OF(CMC_OTHER_MSG) *other;
} CMC_PKIRESPONSE;
DECLARE_ASN1_FUNCTIONS(CMC_PKIRESPONSE)

/* CMCStatusInfo ::= SEQUENCE { cMCStatus, bodyList, statusString OPTIONAL,
 *   otherInfo CHOICE { failInfo INTEGER, pendInfo SEQUENCE } OPTIONAL } */
#define CMC_STATUS_SUCCESS	0
#define CMC_STATUS_FAILED	2
#define CMC_STATUS_PENDING	3
#define CMC_FAIL_BAD_ALG	0
#define CMC_FAIL_BAD_MESSAGE_CHECK 1
#define CMC_FAIL_BAD_REQUEST	2
#define CMC_FAIL_BAD_TIME	3
#define CMC_FAIL_BAD_CERT_ID	4
#define CMC_FAIL_UNSUPPORTED_EXT 5
#define CMC_FAIL_MUST_ARCHIVE_KEYS 6
#define CMC_FAIL_BAD_IDENTITY	7
#define CMC_FAIL_POP_REQUIRED	8
#define CMC_FAIL_POP_FAILED	9
#define CMC_FAIL_NO_KEY_REUSE	10
#define CMC_FAIL_INTERNAL_CA_ERROR 11
#define CMC_FAIL_TRY_LATER	12
typedef struct cmc_status_info_st {
	ASN1_INTEGER *status;
	STACK_OF(ASN1_INTEGER) *body_list;
	ASN1_UTF8STRING *status_string;
	ASN1_INTEGER *fail_info;	/* otherInfo failInfo, OPTIONAL */
} CMC_STATUS_INFO;
DECLARE_ASN1_FUNCTIONS(CMC_STATUS_INFO)

/* Microsoft CmcAddAttributes ::= SEQUENCE { pkiDataReference, certReferences
 *   SEQUENCE OF BodyPartID, attributes SET OF Attribute } */
typedef struct cmc_add_attrs_st {
	ASN1_INTEGER *data_ref;
	STACK_OF(ASN1_INTEGER) *cert_refs;
	STACK_OF(X509_ATTRIBUTE) *attrs;
} CMC_ADD_ATTRS;
DECLARE_ASN1_FUNCTIONS(CMC_ADD_ATTRS)

#endif
