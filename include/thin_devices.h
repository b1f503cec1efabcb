/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thin_devices.h - the list of thin devices read from the device trees.
 *
 * Both the device-details tree and the top level of the mapping tree are
 * keyed by device id; walking either in key order yields a list sorted
 * by id, which is what this small vector holds (with the details record
 * or the mapping root, whichever tree it came from).
 */
#ifndef THINSNAP_THIN_DEVICES_H
#define THINSNAP_THIN_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "thin_types.h"

struct thin_dev {
	uint64_t id;
	uint64_t root;			/* bottom-level mapping root */
	struct thin_details details;
};

struct thin_dev_list {
	struct thin_dev *v;
	size_t n;
	uint64_t cap;
};

/* Append (0 or -ENOMEM). */
int thin_dev_list_push(struct thin_dev_list *l, const struct thin_dev *d);
/* Binary search in a list sorted by id; NULL if absent. */
const struct thin_dev *thin_dev_list_find(const struct thin_dev_list *l,
					  uint64_t id);
void thin_dev_list_release(struct thin_dev_list *l);

#endif
