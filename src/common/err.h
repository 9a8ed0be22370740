/*
 * err.h — the one error convention of printdesk: 0 is success, a negative
 * pd_err is failure. Modules return these; the HTTP layer maps them to
 * statuses in one place (http_status_for_err).
 */
#ifndef PD_ERR_H
#define PD_ERR_H

enum pd_err {
    PD_OK = 0,
    PD_ERR = -1,        /* unexpected failure; see the log */
    PD_ENOMEM = -2,     /* allocation failed */
    PD_EINVAL = -3,     /* bad input from the caller or the client */
    PD_ENOTFOUND = -4,  /* no such row, object or route */
    PD_ECONFLICT = -5,  /* state does not allow it (e.g. already exists) */
    PD_ETOOBIG = -6,    /* over a configured limit */
    PD_EUNAVAIL = -7,   /* a dependency (database, storage) is down */
    PD_EIO = -8,        /* a system call failed; errno was logged */
    PD_EBUSY = -9,      /* locked by someone else; try again */
};

/* A short constant description of an error code, for logs. */
const char *pd_err_str(int err);

#endif
