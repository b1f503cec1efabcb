// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pattern - deterministic 4 KiB block contents for the kernel test tier.
 *
 * Every block written holds a header (magic, device tag, generation, block
 * number) followed by words derived from the header, so a reader can tell
 * which device wrote it, at which address and in which generation, and that
 * nothing else changed in it.  Linked statically and run both in the qemu
 * guest (writing and scanning dm devices) and on the host (predicting what a
 * device must read from a dump's mappings and the data image).
 *
 *   pattern write DEV TAG GEN RANGE...      write blocks (RANGE: a or a-b)
 *   pattern scan DEV [BLOCKS]               print what DEV holds, as runs
 *   pattern place DATA UNIT TAG GEN < MAP   write TAG's blocks where MAP puts
 *                                           them in DATA
 *   pattern predict DATA UNIT BLOCKS [BASE] < MAP
 *                                           print the scan a device mapped by
 *                                           MAP onto DATA must give
 *   pattern compare EXPECTED GOT LABEL      compare two scans block by block
 *
 * MAP lines are "virtual_begin physical_begin length" in units of UNIT
 * sectors (a thin pool's data block, a snapshot's chunk).  Unmapped units
 * read as zeroes, or from BASE (a snapshot's origin) when given.  Scan lines
 * are "FIRST LAST zero", "FIRST LAST pat TAG BLOCK GEN" (block numbers
 * counting up from BLOCK) or "FIRST FIRST other HASH", in 4 KiB blocks.
 * BLOCKS says which blocks to scan or predict: a number N (blocks 0..N-1) or
 * a file of "FIRST LAST" lines, sorted and disjoint (for devices too large
 * to read whole); scan reads the whole device without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#define BLK 4096u
#define MAGIC "TSPATv1"

enum kind { K_ZERO, K_PAT, K_OTHER };

struct blockinfo {
	enum kind kind;
	uint32_t tag, gen;
	uint64_t blk; /* pattern block number, or hash for K_OTHER */
};

struct run {
	uint64_t first, last;
	struct blockinfo info;
};

struct mapping {
	uint64_t virt, phys, len;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pattern: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	errno = 0;
	uint64_t v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("bad number '%s'", s);
	return v;
}

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill_block(unsigned char *b, uint32_t tag, uint32_t gen,
		       uint64_t blk)
{
	uint64_t state = ((uint64_t)tag << 32 | gen) ^ (blk * 0x2545f4914f6cdd1dull);
	memcpy(b, MAGIC, 8);
	memcpy(b + 8, &tag, 4);
	memcpy(b + 12, &gen, 4);
	memcpy(b + 16, &blk, 8);
	for (unsigned int i = 24; i < BLK; i += 8) {
		uint64_t w = splitmix(&state);
		memcpy(b + i, &w, 8);
	}
}

static uint64_t hash_block(const unsigned char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned int i = 0; i < BLK; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static struct blockinfo classify(const unsigned char *b)
{
	static unsigned char want[BLK];
	static const unsigned char zero[BLK];
	struct blockinfo bi = { K_OTHER, 0, 0, 0 };

	if (!memcmp(b, zero, BLK)) {
		bi.kind = K_ZERO;
		return bi;
	}
	if (!memcmp(b, MAGIC, 8)) {
		memcpy(&bi.tag, b + 8, 4);
		memcpy(&bi.gen, b + 12, 4);
		memcpy(&bi.blk, b + 16, 8);
		fill_block(want, bi.tag, bi.gen, bi.blk);
		if (!memcmp(b, want, BLK)) {
			bi.kind = K_PAT;
			return bi;
		}
	}
	bi.tag = bi.gen = 0;
	bi.blk = hash_block(b);
	return bi;
}

/* Does block n with info bi continue run r? */
static bool continues(const struct run *r, uint64_t n, const struct blockinfo *bi)
{
	if (r->last + 1 != n || r->info.kind != bi->kind)
		return false;
	if (bi->kind == K_ZERO)
		return true;
	if (bi->kind == K_OTHER)
		return false;
	return r->info.tag == bi->tag && r->info.gen == bi->gen &&
	       r->info.blk + (n - r->first) == bi->blk;
}

static void print_run(const struct run *r)
{
	switch (r->info.kind) {
	case K_ZERO:
		printf("%" PRIu64 " %" PRIu64 " zero\n", r->first, r->last);
		break;
	case K_PAT:
		printf("%" PRIu64 " %" PRIu64 " pat %" PRIu32 " %" PRIu64
		       " %" PRIu32 "\n",
		       r->first, r->last, r->info.tag, r->info.blk, r->info.gen);
		break;
	case K_OTHER:
		printf("%" PRIu64 " %" PRIu64 " other %016" PRIx64 "\n",
		       r->first, r->last, r->info.blk);
		break;
	}
}

struct scanner {
	struct run cur;
	bool open;
};

static void scanner_add(struct scanner *s, uint64_t n, const unsigned char *b)
{
	struct blockinfo bi = classify(b);
	if (s->open && continues(&s->cur, n, &bi)) {
		s->cur.last = n;
		return;
	}
	if (s->open)
		print_run(&s->cur);
	s->cur = (struct run){ n, n, bi };
	s->open = true;
}

static void scanner_end(struct scanner *s)
{
	if (s->open)
		print_run(&s->cur);
}

static unsigned char *aligned_buf(size_t len)
{
	void *p;
	if (posix_memalign(&p, BLK, len))
		die("%s", "out of memory");
	memset(p, 0, len);
	return p;
}

/* O_DIRECT where the file allows it (block devices, most file systems). */
static int open_dev(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT);
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags);
	if (fd < 0)
		die("cannot open %s", path);
	return fd;
}

static void pread_all(int fd, unsigned char *b, size_t len, uint64_t off,
		      const char *path)
{
	ssize_t n = pread(fd, b, len, (off_t)off);
	if (n < 0)
		die("read error on %s", path);
	if ((size_t)n < len)
		memset(b + n, 0, len - (size_t)n); /* past the end reads zero */
}

static void pwrite_all(int fd, const unsigned char *b, size_t len,
		       uint64_t off, const char *path)
{
	if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
		die("write error on %s", path);
}

static uint64_t dev_size(int fd, const char *path)
{
	struct stat st;
	uint64_t size;
	if (fstat(fd, &st))
		die("cannot stat %s", path);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size))
			die("cannot size %s", path);
		return size;
	}
	return (uint64_t)st.st_size;
}

static int cmd_write(int argc, char **argv)
{
	if (argc < 5)
		die("%s", "usage: write DEV TAG GEN RANGE...");
	uint32_t tag = (uint32_t)parse_u64(argv[2]);
	uint32_t gen = (uint32_t)parse_u64(argv[3]);
	int fd = open_dev(argv[1], O_WRONLY);
	unsigned char *b = aligned_buf(BLK);

	for (int i = 4; i < argc; i++) {
		char *dash = strchr(argv[i], '-');
		uint64_t first, last;
		if (dash) {
			*dash = '\0';
			first = parse_u64(argv[i]);
			last = parse_u64(dash + 1);
		} else {
			first = last = parse_u64(argv[i]);
		}
		for (uint64_t n = first; n <= last; n++) {
			fill_block(b, tag, gen, n);
			pwrite_all(fd, b, BLK, n * BLK, argv[1]);
		}
	}
	if (fsync(fd) || close(fd))
		die("cannot flush %s", argv[1]);
	free(b);
	return 0;
}

struct range {
	uint64_t first, last;
};

/* BLOCKS argument: a count, or a file of "first last" lines. */
static struct range *read_ranges(const char *spec, size_t *count)
{
	struct range *r = NULL;
	size_t n = 0, cap = 0;
	char *end;
	uint64_t a, b;

	errno = 0;
	a = strtoull(spec, &end, 0);
	if (!errno && end != spec && !*end) {
		r = malloc(sizeof(*r));
		if (!r)
			die("%s", "out of memory");
		*r = (struct range){ 0, a - 1 };
		*count = a ? 1 : 0;
		return r;
	}
	FILE *f = fopen(spec, "r");
	if (!f)
		die("cannot open %s", spec);
	while (fscanf(f, "%" SCNu64 " %" SCNu64, &a, &b) == 2) {
		if (b < a || (n && a <= r[n - 1].last))
			die("ranges in %s are not sorted and disjoint", spec);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			r = realloc(r, cap * sizeof(*r));
			if (!r)
				die("%s", "out of memory");
		}
		r[n++] = (struct range){ a, b };
	}
	if (!feof(f))
		die("bad line in %s", spec);
	fclose(f);
	*count = n;
	return r;
}

static int cmd_scan(int argc, char **argv)
{
	if (argc != 2 && argc != 3)
		die("%s", "usage: scan DEV [BLOCKS]");
	enum { CHUNK = 256 };
	int fd = open_dev(argv[1], O_RDONLY);
	uint64_t size = dev_size(fd, argv[1]) / BLK;
	size_t nr;
	struct range whole = { 0, size - 1 };
	struct range *r = argc == 3 ? read_ranges(argv[2], &nr) : &whole;
	unsigned char *b = aligned_buf(CHUNK * BLK);
	struct scanner s = { .open = false };

	if (argc == 2)
		nr = size ? 1 : 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t last = r[i].last < size ? r[i].last : size - 1;
		for (uint64_t n = r[i].first; size && n <= last; n += CHUNK) {
			uint64_t cnt = last - n + 1 < CHUNK ? last - n + 1 : CHUNK;
			pread_all(fd, b, cnt * BLK, n * BLK, argv[1]);
			for (uint64_t k = 0; k < cnt; k++)
				scanner_add(&s, n + k, b + k * BLK);
		}
	}
	scanner_end(&s);
	close(fd);
	if (r != &whole)
		free(r);
	free(b);
	return 0;
}

static struct mapping *read_map(size_t *count)
{
	size_t cap = 64, n = 0;
	struct mapping *m = malloc(cap * sizeof(*m));
	uint64_t v, p, l;

	while (m && scanf("%" SCNu64 " %" SCNu64 " %" SCNu64, &v, &p, &l) == 3) {
		if (n == cap)
			m = realloc(m, (cap *= 2) * sizeof(*m));
		if (m)
			m[n++] = (struct mapping){ v, p, l };
	}
	if (!m)
		die("%s", "out of memory");
	if (!feof(stdin))
		die("%s", "bad map line on stdin");
	*count = n;
	return m;
}

static int by_virt(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;
	return x->virt < y->virt ? -1 : x->virt > y->virt;
}

/* m sorted by virt, no overlaps: binary search for the unit. */
static const struct mapping *find_mapping(const struct mapping *m, size_t n,
					  uint64_t unit)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (unit < m[mid].virt)
			hi = mid;
		else if (unit >= m[mid].virt + m[mid].len)
			lo = mid + 1;
		else
			return &m[mid];
	}
	return NULL;
}

static uint64_t blocks_per_unit(const char *arg)
{
	uint64_t sectors = parse_u64(arg);
	if (!sectors || sectors % 8)
		die("unit %s is not a multiple of 8 sectors", arg);
	return sectors / 8;
}

static int cmd_place(int argc, char **argv)
{
	if (argc != 5)
		die("%s", "usage: place DATA UNIT TAG GEN < MAP");
	uint64_t bpu = blocks_per_unit(argv[2]);
	uint32_t tag = (uint32_t)parse_u64(argv[3]);
	uint32_t gen = (uint32_t)parse_u64(argv[4]);
	size_t n;
	struct mapping *m = read_map(&n);
	int fd = open_dev(argv[1], O_WRONLY);
	unsigned char *b = aligned_buf(BLK);

	for (size_t i = 0; i < n; i++)
		for (uint64_t u = 0; u < m[i].len; u++)
			for (uint64_t k = 0; k < bpu; k++) {
				uint64_t v = (m[i].virt + u) * bpu + k;
				uint64_t p = (m[i].phys + u) * bpu + k;
				fill_block(b, tag, gen, v);
				pwrite_all(fd, b, BLK, p * BLK, argv[1]);
			}
	if (fsync(fd) || close(fd))
		die("cannot flush %s", argv[1]);
	free(m);
	free(b);
	return 0;
}

/* Block j of a device mapped by m onto data (unmapped: base or zeroes). */
static void predict_block(unsigned char *b, const struct mapping *m, size_t n,
			  uint64_t bpu, uint64_t j, int data, int base,
			  char **argv)
{
	const struct mapping *hit = find_mapping(m, n, j / bpu);
	if (hit) {
		uint64_t p = (hit->phys + j / bpu - hit->virt) * bpu + j % bpu;
		pread_all(data, b, BLK, p * BLK, argv[1]);
	} else if (base >= 0) {
		pread_all(base, b, BLK, j * BLK, argv[4]);
	} else {
		memset(b, 0, BLK);
	}
}

static int cmd_predict(int argc, char **argv)
{
	if (argc != 4 && argc != 5)
		die("%s", "usage: predict DATA UNIT BLOCKS [BASE] < MAP");
	uint64_t bpu = blocks_per_unit(argv[2]);
	size_t nr;
	struct range *r = read_ranges(argv[3], &nr);
	size_t n;
	struct mapping *m = read_map(&n);
	if (n)
		qsort(m, n, sizeof(*m), by_virt);
	int data = open_dev(argv[1], O_RDONLY);
	int base = argc == 5 ? open_dev(argv[4], O_RDONLY) : -1;
	unsigned char *b = aligned_buf(BLK);
	struct scanner s = { .open = false };

	for (size_t i = 0; i < nr; i++)
		for (uint64_t j = r[i].first; j <= r[i].last; j++) {
			predict_block(b, m, n, bpu, j, data, base, argv);
			scanner_add(&s, j, b);
		}
	scanner_end(&s);
	free(r);
	free(m);
	free(b);
	return 0;
}

struct runlist {
	struct run *r;
	size_t n;
};

static struct runlist read_runs(const char *path)
{
	struct runlist rl = { NULL, 0 };
	size_t cap = 0;
	char line[256], kind[16];
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		struct run r = { 0, 0, { K_ZERO, 0, 0, 0 } };
		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %15s", &r.first,
			   &r.last, kind) != 3)
			die("bad scan line in %s", path);
		if (!strcmp(kind, "pat")) {
			r.info.kind = K_PAT;
			if (sscanf(line, "%*u %*u pat %" SCNu32 " %" SCNu64
				   " %" SCNu32, &r.info.tag, &r.info.blk,
				   &r.info.gen) != 3)
				die("bad pat line in %s", path);
		} else if (!strcmp(kind, "other")) {
			r.info.kind = K_OTHER;
			if (sscanf(line, "%*u %*u other %" SCNx64, &r.info.blk) != 1)
				die("bad other line in %s", path);
		} else if (strcmp(kind, "zero")) {
			die("bad kind in %s", path);
		}
		if (rl.n == cap) {
			cap = cap ? cap * 2 : 64;
			rl.r = realloc(rl.r, cap * sizeof(*rl.r));
			if (!rl.r)
				die("%s", "out of memory");
		}
		rl.r[rl.n++] = r;
	}
	fclose(f);
	return rl;
}

static uint64_t runs_end(const struct runlist *rl)
{
	return rl->n ? rl->r[rl->n - 1].last + 1 : 0;
}

/*
 * The block at n as described by the run list (zero in gaps and past the
 * end), and the last block up to which the same description continues.
 */
static struct blockinfo block_at(const struct runlist *rl, size_t *pos,
				 uint64_t n, uint64_t *seg_last)
{
	struct blockinfo bi = { K_ZERO, 0, 0, 0 };
	while (*pos < rl->n && rl->r[*pos].last < n)
		(*pos)++;
	*seg_last = UINT64_MAX;
	if (*pos < rl->n && rl->r[*pos].first <= n) {
		const struct run *r = &rl->r[*pos];
		bi = r->info;
		if (bi.kind == K_PAT)
			bi.blk += n - r->first;
		*seg_last = r->last;
	} else if (*pos < rl->n) {
		*seg_last = rl->r[*pos].first - 1;
	}
	return bi;
}

static void describe(char *out, size_t len, const struct blockinfo *bi)
{
	if (bi->kind == K_ZERO)
		snprintf(out, len, "zeroes");
	else if (bi->kind == K_PAT)
		snprintf(out, len, "pattern of device %" PRIu32 " block %" PRIu64
			 " generation %" PRIu32, bi->tag, bi->blk, bi->gen);
	else
		snprintf(out, len, "other data (hash %016" PRIx64 ")", bi->blk);
}

static bool same_block(const struct blockinfo *a, const struct blockinfo *b)
{
	return a->kind == b->kind && a->tag == b->tag && a->gen == b->gen &&
	       a->blk == b->blk;
}

static int cmd_compare(int argc, char **argv)
{
	if (argc != 4)
		die("%s", "usage: compare EXPECTED GOT LABEL");
	struct runlist want = read_runs(argv[1]), got = read_runs(argv[2]);
	uint64_t end = runs_end(&want), got_end = runs_end(&got);
	size_t pw = 0, pg = 0;
	unsigned int shown = 0;
	uint64_t bad = 0;
	bool size_differs = end != got_end;
	char dw[96], dg[96];

	if (size_differs)
		printf("%s: size differs: expected %" PRIu64
		       " blocks of 4 KiB, read %" PRIu64 "\n",
		       argv[3], end, got_end);
	if (got_end > end)
		end = got_end;
	/* Segment by segment: within one, both descriptions advance alike. */
	for (uint64_t n = 0, lw, lg, last; n < end; n = last + 1) {
		struct blockinfo w = block_at(&want, &pw, n, &lw);
		struct blockinfo g = block_at(&got, &pg, n, &lg);
		last = lw < lg ? lw : lg;
		if (last >= end)
			last = end - 1;
		if (same_block(&w, &g))
			continue;
		bad += last - n + 1;
		for (uint64_t b = n; b <= last && shown < 10; b++, shown++) {
			describe(dw, sizeof(dw), &w);
			describe(dg, sizeof(dg), &g);
			printf("%s: 4 KiB block %" PRIu64
			       ": expected %s, read %s\n", argv[3], b, dw, dg);
			w.blk += w.kind == K_PAT;
			g.blk += g.kind == K_PAT;
		}
	}
	if (bad > shown)
		printf("%s: %" PRIu64 " blocks differ in all\n", argv[3], bad);
	free(want.r);
	free(got.r);
	return bad || size_differs ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "scan"))
		return cmd_scan(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "place"))
		return cmd_place(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "predict"))
		return cmd_predict(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "compare"))
		return cmd_compare(argc - 1, argv + 1);
	die("%s", "usage: pattern write|scan|place|predict|compare ...");
	return 2;
}
