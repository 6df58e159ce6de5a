/*
 * pq.h - libpq, loaded when a postgres:// name is first used.
 *
 * libpq brings some thirty shared libraries with it (TLS, Kerberos, LDAP):
 * linked in, every run of sluice would map and initialize them, about 5 MiB
 * of resident memory and a few milliseconds, for a database most runs never
 * touch.  So the PostgreSQL code calls libpq through this table, filled by
 * dlopen("libpq.so.5") on first use; the header still comes from libpq-dev.
 * Include this instead of <libpq-fe.h>.
 */
#ifndef SLUICE_PQ_H
#define SLUICE_PQ_H

#include <stddef.h>

#include <libpq-fe.h>

#define SL_PQ_FUNCS(X)                                                                                       \
    X(PQclear) X(PQconnectdb) X(PQdescribePortal) X(PQdescribePrepared) X(PQerrorMessage) X(PQexec)         \
    X(PQexecParams) X(PQexecPrepared) X(PQfinish) X(PQfname) X(PQftype) X(PQgetResult) X(PQgetisnull)      \
    X(PQgetlength) X(PQgetvalue) X(PQnfields) X(PQntuples) X(PQprepare) X(PQputCopyData) X(PQputCopyEnd)   \
    X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsetClientEncoding)                 \
    X(PQsetNoticeProcessor) X(PQstatus)

typedef struct sl_pq_api {
#define SL_PQ_FIELD(f) __typeof__(f) *f;
    SL_PQ_FUNCS(SL_PQ_FIELD)
#undef SL_PQ_FIELD
} sl_pq_api;

extern sl_pq_api sl_pq;

/* Load libpq once: 0, or -1 with a message in msg (what is missing and
   which Debian package has it). */
int sl_pq_load(char *msg, size_t cap);

#ifndef SL_PQ_IMPL
#define PQclear (sl_pq.PQclear)
#define PQconnectdb (sl_pq.PQconnectdb)
#define PQdescribePortal (sl_pq.PQdescribePortal)
#define PQdescribePrepared (sl_pq.PQdescribePrepared)
#define PQerrorMessage (sl_pq.PQerrorMessage)
#define PQexec (sl_pq.PQexec)
#define PQexecParams (sl_pq.PQexecParams)
#define PQexecPrepared (sl_pq.PQexecPrepared)
#define PQfinish (sl_pq.PQfinish)
#define PQfname (sl_pq.PQfname)
#define PQftype (sl_pq.PQftype)
#define PQgetResult (sl_pq.PQgetResult)
#define PQgetisnull (sl_pq.PQgetisnull)
#define PQgetlength (sl_pq.PQgetlength)
#define PQgetvalue (sl_pq.PQgetvalue)
#define PQnfields (sl_pq.PQnfields)
#define PQntuples (sl_pq.PQntuples)
#define PQprepare (sl_pq.PQprepare)
#define PQputCopyData (sl_pq.PQputCopyData)
#define PQputCopyEnd (sl_pq.PQputCopyEnd)
#define PQresultErrorField (sl_pq.PQresultErrorField)
#define PQresultErrorMessage (sl_pq.PQresultErrorMessage)
#define PQresultStatus (sl_pq.PQresultStatus)
#define PQsetClientEncoding (sl_pq.PQsetClientEncoding)
#define PQsetNoticeProcessor (sl_pq.PQsetNoticeProcessor)
#define PQstatus (sl_pq.PQstatus)
#endif

#endif
