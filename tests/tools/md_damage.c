// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * md_damage IMG zero|flip WHAT    damage one metadata block, print its number
 *   WHAT: sb | snap | details | internal DEV | leaf DEV VBLOCK |
 *         bitmap data|metadata N | index data|metadata | block N
 * md_damage IMG graft OLD OFFSET  copy OLD's trees into IMG, print "TOP DET"
 * md_damage IMG set-roots TOP DET point the superblock at other roots
 * md_damage IMG new-transaction  move both device-tree roots, print "OLDTOP OLDDET"
 *
 * Test helper for repair.  `zero` clears the whole block; `flip` inverts
 * one byte of its body so the checksum no longer matches.  `details` is
 * the details tree's root; `internal DEV` the root of device DEV's
 * mapping tree (which must be an internal node); `leaf` the mapping leaf
 * that holds (or would hold) VBLOCK; `snap` the metadata-snapshot copy of
 * the superblock; `index data` the root of the data space map's index
 * tree, `index metadata` the metadata space map's index block.
 *
 * `graft` leaves an older transaction behind, the way the kernel leaves
 * freed blocks untouched until they are reused: every node reachable
 * from OLD's superblock is copied to its block number + OFFSET in IMG
 * (pointers moved by OFFSET, checksums redone) without changing IMG's
 * superblock or space maps.  `set-roots` then makes a stale superblock.
 *
 * `new-transaction` does what the kernel's next commit would do to the
 * roots of the device trees (single leaves, as mk_thin_snap needs): it
 * copies each to a newly allocated block, frees the old block and points
 * the superblock at the copies.  The old roots stay on the device, intact
 * and sharing every mapping tree with the new ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "md_edit.h"
#include "thin_types.h"

static int fail(const char *what)
{
	fprintf(stderr, "md_damage: %s\n", what);
	return 1;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

/* Look key up under root: the leaf that holds it (want_leaf), or its value. */
static int lookup(struct md_img *m, uint64_t root, uint64_t key, bool want_leaf,
		  uint64_t *out)
{
	uint8_t blk[MD_BLK];
	uint64_t b = root;
	for (int depth = 0; depth < 16; depth++) {
		struct btree_node n;
		if (md_read(m, b, blk))
			return -1;
		btree_node_decode(&n, blk, b);
		unsigned j = 0;
		while (j + 1 < n.nr_entries && btree_node_key(&n, j + 1) <= key)
			j++;
		if (btree_node_is_leaf(&n)) {
			if (want_leaf) {
				*out = b;
				return 0;
			}
			if (!n.nr_entries || btree_node_key(&n, j) != key)
				return -1;
			*out = btree_node_value64(&n, j);
			return 0;
		}
		if (!n.nr_entries)
			return -1;
		b = btree_node_value64(&n, j);
	}
	return -1;
}

static int target(struct md_img *m, int argc, char **argv, uint64_t *b)
{
	const char *w = argv[0];
	if (!strcmp(w, "sb") && argc == 1)
		*b = 0;
	else if (!strcmp(w, "snap") && argc == 1)
		*b = m->sb.metadata_snap;
	else if (!strcmp(w, "details") && argc == 1)
		*b = m->sb.device_details_root;
	else if (!strcmp(w, "block") && argc == 2)
		*b = num(argv[1]);
	else if (!strcmp(w, "internal") && argc == 2) {
		uint8_t blk[MD_BLK];
		struct btree_node n;
		if (lookup(m, m->sb.data_mapping_root, num(argv[1]), false, b) ||
		    md_read(m, *b, blk))
			return fail("no such device");
		btree_node_decode(&n, blk, *b);
		if (btree_node_is_leaf(&n))
			return fail("the device's mapping root is a leaf");
	} else if (!strcmp(w, "leaf") && argc == 3) {
		uint64_t root;
		if (lookup(m, m->sb.data_mapping_root, num(argv[1]), false, &root) ||
		    lookup(m, root, num(argv[2]), true, b))
			return fail("no such device or leaf");
	} else if (!strcmp(w, "index") && argc == 2) {
		bool data = !strcmp(argv[1], "data");
		*b = data ? m->sb.data_sm.bitmap_root : m->sb.metadata_sm.bitmap_root;
	} else if (!strcmp(w, "bitmap") && argc == 3) {
		uint8_t ib[MD_BLK];
		uint64_t iw;
		unsigned off;
		enum block_kind k;
		struct sm_index_entry e;
		if (md_index_entry(m, !strcmp(argv[1], "data"), num(argv[2]), &iw,
				   &off, &k) ||
		    md_read(m, iw, ib))
			return fail("no such bitmap");
		sm_index_entry_decode(&e, ib + off);
		*b = e.blocknr;
	} else {
		return fail("unknown target");
	}
	if (!*b && strcmp(w, "sb") && strcmp(w, "block"))
		return fail("the target does not exist (block 0)");
	return 0;
}

static int damage(struct md_img *m, bool zero, int argc, char **argv)
{
	uint8_t blk[MD_BLK];
	uint64_t b;
	if (target(m, argc, argv, &b))
		return 1;
	if (md_read(m, b, blk))
		return fail("read failed");
	if (zero)
		memset(blk, 0, MD_BLK);
	else
		blk[64] ^= 0xff;
	if (md_write(m, b, blk) || fsync(m->fd))
		return fail("write failed");
	printf("%" PRIu64 "\n", b);
	return 0;
}

enum kind { TOP, BOTTOM, DETAILS };

struct graft {
	struct md_img old, *img;
	uint64_t offset;
	uint8_t *seen;
	uint64_t nr;
};

static int copy_tree(struct graft *g, uint64_t b, enum kind k)
{
	uint8_t blk[MD_BLK];
	struct btree_node n;
	if (b >= g->nr || md_read(&g->old, b, blk))
		return -1;
	if (g->seen[b])
		return 0;
	g->seen[b] = 1;
	btree_node_decode(&n, blk, b);
	bool leaf = btree_node_is_leaf(&n);
	for (unsigned i = 0; i < n.nr_entries; i++) {
		if (leaf && k != TOP)
			break;
		uint8_t *v = (uint8_t *)btree_node_value(&n, i);
		uint64_t child = le64_load(v);
		if (copy_tree(g, child, leaf ? BOTTOM : k))
			return -1;
		le64_store(v, child + g->offset);
	}
	block_seal(BK_BTREE_NODE, blk, b + g->offset);
	return md_write(g->img, b + g->offset, blk);
}

static int graft(struct md_img *m, const char *old, uint64_t offset)
{
	struct graft g = { .img = m, .offset = offset };
	struct stat st;
	if (md_open(&g.old, old) || fstat(g.old.fd, &st))
		return fail("cannot open the old image");
	g.nr = (uint64_t)st.st_size / MD_BLK;
	g.seen = calloc(g.nr, 1);
	if (!g.seen)
		return fail("out of memory");
	int r = copy_tree(&g, g.old.sb.data_mapping_root, TOP) ||
		copy_tree(&g, g.old.sb.device_details_root, DETAILS);
	free(g.seen);
	close(g.old.fd);
	if (r || fsync(m->fd))
		return fail("graft failed");
	printf("%" PRIu64 " %" PRIu64 "\n", g.old.sb.data_mapping_root + offset,
	       g.old.sb.device_details_root + offset);
	return 0;
}

/* Copy the node at b to a newly allocated block *nb. */
static int copy_node(struct md_img *m, uint64_t b, uint64_t *nb)
{
	uint8_t blk[MD_BLK];
	if (md_read(m, b, blk) || md_alloc(m, false, nb))
		return -1;
	block_seal(BK_BTREE_NODE, blk, *nb);
	return md_write(m, *nb, blk);
}

static int new_transaction(struct md_img *m)
{
	uint64_t top = m->sb.data_mapping_root, det = m->sb.device_details_root;
	/* blocks freed in a transaction are not reused in it: copy, then free */
	if (copy_node(m, top, &m->sb.data_mapping_root) ||
	    copy_node(m, det, &m->sb.device_details_root) ||
	    md_adjust(m, false, top, -1) || md_adjust(m, false, det, -1) ||
	    md_commit(m))
		return fail("cannot move the roots");
	printf("%" PRIu64 " %" PRIu64 "\n", top, det);
	return 0;
}

int main(int argc, char **argv)
{
	struct md_img m;
	if (argc < 3)
		return fail("usage: md_damage IMG zero|flip WHAT... | graft OLD OFFSET | set-roots TOP DET");
	const char *op = argv[2];
	if (!strcmp(op, "zero") || !strcmp(op, "flip")) {
		if (argc < 4)
			return fail("what to damage?");
		m.fd = open(argv[1], O_RDWR);
		if (m.fd < 0)
			return fail("cannot open image");
		uint8_t blk[MD_BLK];
		/* a damaged superblock still names the other blocks */
		if (md_read(&m, 0, blk))
			return fail("cannot read block 0");
		thin_sb_decode(&m.sb, blk);
		return damage(&m, !strcmp(op, "zero"), argc - 3, argv + 3);
	}
	if (md_open(&m, argv[1]))
		return fail("cannot open metadata (bad superblock?)");
	if (!strcmp(op, "new-transaction") && argc == 3)
		return new_transaction(&m);
	if (!strcmp(op, "graft") && argc == 5)
		return graft(&m, argv[3], num(argv[4]));
	if (!strcmp(op, "set-roots") && argc == 5) {
		m.sb.data_mapping_root = num(argv[3]);
		m.sb.device_details_root = num(argv[4]);
		return md_commit(&m) ? fail("write failed") : 0;
	}
	return fail("unknown operation");
}
