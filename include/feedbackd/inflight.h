/* A bounded set of requests in progress, keyed by a 32-byte fingerprint.
 *
 * Idempotency needs to know, before a keyed request is queued, whether the
 * same key is being processed right now (the repeat is answered 409). The set
 * is small and fixed: an open-addressing table sized at creation, never
 * grown, so a flood of distinct keys meets a full set (503) instead of
 * growing memory. Thread-safe (one mutex; every operation is O(1) expected). */
#ifndef FEEDBACKD_INFLIGHT_H
#define FEEDBACKD_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#define INFLIGHT_FP_LEN 32

struct inflight;

/* A set holding at most capacity fingerprints (capacity >= 1). *out is owned
 * by the caller: inflight_free(). Returns 0, FBD_EINVAL or FBD_ENOMEM. */
int inflight_new(struct inflight **out, size_t capacity);

/* NULL accepted. The set must no longer be in use. */
void inflight_free(struct inflight *set);

/* Add fp. Returns 0 when added, FBD_ECONFLICT when it is already present,
 * FBD_EFULL when the set holds capacity fingerprints. */
int inflight_enter(struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN]);

/* Remove fp; no effect when absent. */
void inflight_leave(struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN]);

/* Fingerprints held now. */
size_t inflight_count(struct inflight *set);

#endif
