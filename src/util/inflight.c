/* The in-progress set: linear probing over 2 * capacity slots (so probes stay
 * short even when full), deletion by backward shift so no tombstones pile up
 * and lookups never degrade. The fingerprint is already a cryptographic hash,
 * so its first bytes serve as the slot hash. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "feedbackd/error.h"
#include "feedbackd/inflight.h"

struct inflight_slot {
	bool used;
	uint8_t fp[INFLIGHT_FP_LEN];
};

struct inflight {
	pthread_mutex_t lock;
	size_t capacity; /* fingerprints */
	size_t n_slots;  /* power of two >= 2 * capacity */
	size_t count;    /* guarded by lock */
	struct inflight_slot *slots;
};

static size_t slot_home(const struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN])
{
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = (h << 8) | fp[i];
	return (size_t)(h & (set->n_slots - 1));
}

int inflight_new(struct inflight **out, size_t capacity)
{
	*out = NULL;
	if (capacity == 0 || capacity > ((size_t)1 << 24))
		return FBD_EINVAL;
	struct inflight *set = calloc(1, sizeof(*set));
	if (set == NULL)
		return FBD_ENOMEM;
	set->capacity = capacity;
	set->n_slots = 2;
	while (set->n_slots < 2 * capacity)
		set->n_slots *= 2;
	set->slots = calloc(set->n_slots, sizeof(*set->slots));
	if (set->slots == NULL || pthread_mutex_init(&set->lock, NULL) != 0) {
		free(set->slots);
		free(set);
		return FBD_ENOMEM;
	}
	*out = set;
	return 0;
}

void inflight_free(struct inflight *set)
{
	if (set == NULL)
		return;
	pthread_mutex_destroy(&set->lock);
	free(set->slots);
	free(set);
}

/* The slot holding fp, or the empty slot where it would go. The table is
 * never full (n_slots > capacity), so the walk ends. Lock held. */
static size_t slot_find(const struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN])
{
	size_t mask = set->n_slots - 1;
	size_t i = slot_home(set, fp);
	while (set->slots[i].used && memcmp(set->slots[i].fp, fp, INFLIGHT_FP_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

int inflight_enter(struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN])
{
	int err = 0;
	pthread_mutex_lock(&set->lock);
	size_t i = slot_find(set, fp);
	if (set->slots[i].used) {
		err = FBD_ECONFLICT;
	} else if (set->count == set->capacity) {
		err = FBD_EFULL;
	} else {
		set->slots[i].used = true;
		memcpy(set->slots[i].fp, fp, INFLIGHT_FP_LEN);
		set->count++;
	}
	pthread_mutex_unlock(&set->lock);
	return err;
}

/* True when home position h lies cyclically in (gap, j]: the entry at j may
 * not move back to gap, since it would then sit before its home. */
static bool stays(size_t h, size_t gap, size_t j)
{
	return gap <= j ? (gap < h && h <= j) : (gap < h || h <= j);
}

void inflight_leave(struct inflight *set, const uint8_t fp[INFLIGHT_FP_LEN])
{
	pthread_mutex_lock(&set->lock);
	size_t mask = set->n_slots - 1;
	size_t gap = slot_find(set, fp);
	if (!set->slots[gap].used)
		goto out;
	set->slots[gap].used = false;
	set->count--;
	/* Backward shift: pull later entries of the cluster into the gap when
	 * that brings them no further from their home than they were. */
	for (size_t j = (gap + 1) & mask; set->slots[j].used; j = (j + 1) & mask) {
		if (stays(slot_home(set, set->slots[j].fp), gap, j))
			continue;
		set->slots[gap] = set->slots[j];
		set->slots[j].used = false;
		gap = j;
	}
out:
	pthread_mutex_unlock(&set->lock);
}

size_t inflight_count(struct inflight *set)
{
	pthread_mutex_lock(&set->lock);
	size_t n = set->count;
	pthread_mutex_unlock(&set->lock);
	return n;
}
