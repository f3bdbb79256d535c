/* Lab recovery officers: KRA keys made next to a lab CA. */
#ifndef ARCHIVE_LABOFF_H
#define ARCHIVE_LABOFF_H

struct ca;
struct ca_err;

#define LABOFF_COUNT	3

/*
 * Makes dir (0700) with LABOFF_COUNT officers: officerN.p12 (key, KRA
 * certificate from the "kra" template, chain; 0600), officerN.crt, and
 * their random PKCS#12 passwords in passwords.txt; registers each KRA.
 * ca must hold its key. Lab only: real officers keep their own keys.
 */
int laboff_make(struct ca *ca, const char *dir, struct ca_err *err);

#endif
