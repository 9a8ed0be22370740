/* err.c — names for the pd_err codes. */
#include "common/err.h"

const char *
pd_err_str(int err)
{
    switch (err) {
    case PD_OK: return "ok";
    case PD_ERR: return "internal error";
    case PD_ENOMEM: return "out of memory";
    case PD_EINVAL: return "invalid input";
    case PD_ENOTFOUND: return "not found";
    case PD_ECONFLICT: return "conflict";
    case PD_ETOOBIG: return "too large";
    case PD_EUNAVAIL: return "unavailable";
    case PD_EIO: return "i/o error";
    case PD_EBUSY: return "busy";
    }
    return "unknown error";
}
