// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mk_thin_snap IMG snap NEW_ID ORIGIN_ID
 * mk_thin_snap IMG write DEV_ID VBLOCK
 *
 * Test helper: make shared subtrees the way the kernel does.
 *
 * `snap` is the pool message create_snap (FORMATS.md A.6, A.10.3): the
 * clock goes up by one, the new device gets a top-level entry pointing
 * at the origin's mapping root (whose count goes up) and a copy of the
 * origin's details with creation/snapshot time = the new clock, and the
 * origin's snapshot time is set to it too.
 *
 * `write` remaps the already-mapped VBLOCK of a device to a fresh data
 * block, shadowing every node on the path whose count is above 1: the
 * copy goes to a free block, its children (nodes, or data blocks for a
 * leaf) gain a reference, the original loses one.  So after `snap` and
 * `write`, the devices share every leaf but one.
 *
 * Only small pools: the top-level and details trees must be single
 * leaves and no count may reach 3.  Exit 1 with a message otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "md_edit.h"
#include "thin_types.h"

static int fail(const char *what)
{
	fprintf(stderr, "mk_thin_snap: %s\n", what);
	return 1;
}

static int find_key(const struct btree_node *n, uint64_t key)
{
	for (unsigned i = 0; i < n->nr_entries; i++)
		if (btree_node_key(n, i) == key)
			return (int)i;
	return -1;
}

/* Insert key/value into a leaf with room, keeping keys sorted. */
static int leaf_insert(uint8_t *blk, uint64_t key, const void *val)
{
	struct btree_node n;
	btree_node_decode(&n, blk, 0);
	if (n.nr_entries >= n.max_entries || find_key(&n, key) >= 0)
		return -1;
	unsigned i = 0;
	while (i < n.nr_entries && btree_node_key(&n, i) < key)
		i++;
	uint8_t *keys = blk + BTREE_HEADER_SIZE;
	uint8_t *vals = keys + 8 * n.max_entries;
	memmove(keys + 8 * (i + 1), keys + 8 * i, 8 * (n.nr_entries - i));
	memmove(vals + n.value_size * (i + 1), vals + n.value_size * i,
		n.value_size * (n.nr_entries - i));
	le64_store(keys + 8 * i, key);
	memcpy(vals + n.value_size * i, val, n.value_size);
	le32_store(blk + 16, n.nr_entries + 1);
	return 0;
}

static int read_leaf(struct md_img *m, uint64_t b, uint8_t *blk,
		     struct btree_node *n)
{
	if (md_read(m, b, blk))
		return -1;
	btree_node_decode(n, blk, b);
	return btree_node_is_leaf(n) ? 0 : -1;
}

static int snap(struct md_img *m, uint64_t new_id, uint64_t origin)
{
	uint8_t top[MD_BLK], det[MD_BLK], val[24];
	struct btree_node tn, dn;
	struct thin_details od, nd;
	uint64_t top_b = m->sb.data_mapping_root, det_b = m->sb.device_details_root;

	if (read_leaf(m, top_b, top, &tn) || read_leaf(m, det_b, det, &dn))
		return fail("top-level and details trees must be single leaves");
	int ti = find_key(&tn, origin), di = find_key(&dn, origin);
	if (ti < 0 || di < 0)
		return fail("no such origin device");
	uint64_t root = btree_node_value64(&tn, (unsigned)ti);
	m->sb.time++;
	thin_details_decode(&od, btree_node_value(&dn, (unsigned)di));
	nd = od;
	nd.transaction_id = m->sb.trans_id;
	nd.creation_time = nd.snapshotted_time = m->sb.time;
	od.snapshotted_time = m->sb.time;
	thin_details_encode(&od, (uint8_t *)btree_node_value(&dn, (unsigned)di));
	le64_store(val, root);
	if (leaf_insert(top, new_id, val))
		return fail("new id exists, or the top-level leaf is full");
	thin_details_encode(&nd, val);
	if (leaf_insert(det, new_id, val))
		return fail("new id exists, or the details leaf is full");
	if (md_adjust(m, false, root, +1))
		return fail("cannot count the shared root (count would reach 3?)");
	block_seal(BK_BTREE_NODE, top, top_b);
	block_seal(BK_BTREE_NODE, det, det_b);
	if (md_write(m, top_b, top) || md_write(m, det_b, det) || md_commit(m))
		return fail("write failed");
	return 0;
}

/* Make node b unshared (copy it if its count is above 1); *out = copy. */
static int shadow(struct md_img *m, uint64_t b, uint8_t *blk, uint64_t *out)
{
	struct btree_node n;
	unsigned count;
	if (md_read(m, b, blk) || md_count(m, false, b, &count))
		return -1;
	*out = b;
	if (count <= 1)
		return 0;
	if (md_alloc(m, false, out) || md_adjust(m, false, b, -1))
		return -1;
	btree_node_decode(&n, blk, b);
	for (unsigned i = 0; i < n.nr_entries; i++) {
		uint64_t v = btree_node_value64(&n, i);
		bool leaf = btree_node_is_leaf(&n);
		if (md_adjust(m, leaf, leaf ? block_time_block(v) : v, +1))
			return -1;
	}
	block_seal(BK_BTREE_NODE, blk, *out);
	return md_write(m, *out, blk) ? -1 : 0;
}

static int write_block(struct md_img *m, uint64_t dev, uint64_t vblock)
{
	uint8_t top[MD_BLK], blk[MD_BLK], parent[MD_BLK];
	struct btree_node tn, n;
	uint64_t top_b = m->sb.data_mapping_root, b, parent_b = top_b;
	unsigned slot;

	if (read_leaf(m, top_b, top, &tn))
		return fail("top-level tree must be a single leaf");
	int ti = find_key(&tn, dev);
	if (ti < 0)
		return fail("no such device");
	memcpy(parent, top, MD_BLK);
	slot = (unsigned)ti;
	b = btree_node_value64(&tn, slot);
	for (int depth = 0; depth < 8; depth++) {
		uint64_t nb;
		if (shadow(m, b, blk, &nb))
			return fail("shadowing failed (count would reach 3?)");
		btree_node_decode(&n, parent, parent_b);
		le64_store((uint8_t *)btree_node_value(&n, slot), nb);
		block_seal(BK_BTREE_NODE, parent, parent_b);
		if (md_write(m, parent_b, parent))
			return fail("write failed");
		btree_node_decode(&n, blk, nb);
		if (btree_node_is_leaf(&n)) {
			int i = find_key(&n, vblock);
			uint64_t fresh;
			if (i < 0)
				return fail("virtual block is not mapped");
			uint8_t *v = (uint8_t *)btree_node_value(&n, (unsigned)i);
			if (md_alloc(m, true, &fresh) ||
			    md_adjust(m, true, block_time_block(le64_load(v)), -1))
				return fail("data space map update failed");
			le64_store(v, block_time_pack(fresh, m->sb.time));
			block_seal(BK_BTREE_NODE, blk, nb);
			if (md_write(m, nb, blk) || md_commit(m))
				return fail("write failed");
			printf("%" PRIu64 "\n", fresh);
			return 0;
		}
		slot = 0;
		while (slot + 1 < n.nr_entries &&
		       btree_node_key(&n, slot + 1) <= vblock)
			slot++;
		memcpy(parent, blk, MD_BLK);
		parent_b = nb;
		b = btree_node_value64(&n, slot);
	}
	return fail("tree too deep");
}

int main(int argc, char **argv)
{
	struct md_img m;
	if (argc != 5)
		return fail("usage: mk_thin_snap IMG snap NEW ORIGIN | IMG write DEV VBLOCK");
	if (md_open(&m, argv[1]))
		return fail("cannot open metadata (bad superblock?)");
	uint64_t a = strtoull(argv[3], NULL, 10), b = strtoull(argv[4], NULL, 10);
	if (!strcmp(argv[2], "snap"))
		return snap(&m, a, b);
	if (!strcmp(argv[2], "write"))
		return write_block(&m, a, b);
	return fail("unknown operation");
}
