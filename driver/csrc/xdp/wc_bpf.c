/* SPDX-License-Identifier: BSD-3-Clause */
/* BPF objects through bpf(2); contract in wc_bpf.h. */
#define _GNU_SOURCE
#include "wc_bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wc_sys.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

/* include/uapi/linux/if_link.h: XDP_FLAGS_SKB_MODE / XDP_FLAGS_DRV_MODE */
#define WC_XDP_FLAGS_SKB_MODE (1U << 1)
#define WC_XDP_FLAGS_DRV_MODE (1U << 2)

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	int rc = (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return rc < 0 ? -errno : rc;
}

/* Instruction constructors (Documentation/bpf/standardization/instruction-set.rst). */
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };

	return i;
}

#define MOV_REG(d, s) insn(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, k) insn(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define ADD_IMM(d, k) insn(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, k)
#define LDX_W(d, s, o) insn(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_DW(d, s, o) insn(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define JEQ_IMM(d, k, o) insn(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, k)
#define STX_W(d, s, o) insn(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
#define STX_DW(d, s, o) insn(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define ST_W(d, o, k) insn(BPF_ST | BPF_MEM | BPF_W, d, 0, o, k)
#define JNE_IMM(d, k, o) insn(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, k)
#define JGT_REG(d, s, o) insn(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define CALL(f) insn(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define ATOMIC_ADD_DW(d, s, o) insn(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD)
#define LDX_H(d, s, o) insn(BPF_LDX | BPF_MEM | BPF_H, d, s, o, 0)
#define LDX_B(d, s, o) insn(BPF_LDX | BPF_MEM | BPF_B, d, s, o, 0)
#define ADD_REG(d, s) insn(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define XOR_REG(d, s) insn(BPF_ALU64 | BPF_XOR | BPF_X, d, s, 0, 0)
#define AND_IMM(d, k) insn(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, k)
#define LSH_IMM(d, k) insn(BPF_ALU64 | BPF_LSH | BPF_K, d, 0, 0, k)
#define RSH_IMM(d, k) insn(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, k)
#define JLT_IMM(d, k, o) insn(BPF_JMP | BPF_JLT | BPF_K, d, 0, o, k)
#define JA(o) insn(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* struct xdp_md field offsets (include/uapi/linux/bpf.h) */
#define MD_DATA offsetof(struct xdp_md, data)
#define MD_DATA_META offsetof(struct xdp_md, data_meta)
#define MD_RXQ offsetof(struct xdp_md, rx_queue_index)

#define META_LEN ((int)sizeof(struct wc_xdp_meta))

int wc_bpf__xskmap_create(uint32_t max_entries)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_XSKMAP;
	a.key_size = sizeof(uint32_t);
	a.value_size = sizeof(int);
	a.max_entries = max_entries;
	strncpy(a.map_name, "wc_xsks", sizeof(a.map_name) - 1);
	return sys_bpf(BPF_MAP_CREATE, &a);
}

int wc_bpf__arrival_map_create(uint32_t max_entries)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(uint32_t);
	a.value_size = sizeof(struct wc_xdp_arrival);
	a.max_entries = max_entries;
	strncpy(a.map_name, "wc_arrivals", sizeof(a.map_name) - 1);
	return sys_bpf(BPF_MAP_CREATE, &a);
}

int wc_bpf__arrival_get(int map_fd, uint32_t queue, struct wc_xdp_arrival *out)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&queue;
	a.value = (uint64_t)(uintptr_t)out;
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

int wc_bpf__arrival_reset(int map_fd, uint32_t queue)
{
	struct wc_xdp_arrival zero = { 0, 0, 0 };
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&queue;
	a.value = (uint64_t)(uintptr_t)&zero;
	a.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

int wc_bpf__map_set(int map_fd, uint32_t key, int value_fd)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)&value_fd;
	a.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

int wc_bpf__map_del(int map_fd, uint32_t key)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&key;
	return sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

static int prog_load(const struct bpf_insn *insns, uint32_t n, const char *name, char *log,
		     size_t log_size)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.expected_attach_type = BPF_XDP;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uint64_t)(uintptr_t)"Dual BSD/GPL";
	strncpy(a.prog_name, name, sizeof(a.prog_name) - 1);
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0 && log && log_size > 1) {
		/* load again with the verifier's log for the error message */
		int err = fd;

		memset(log, 0, log_size);
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)(log_size > 0xffffff ? 0xffffff : log_size);
		a.log_level = 1;
		fd = sys_bpf(BPF_PROG_LOAD, &a);
		if (fd >= 0) {
			close(fd);
			fd = err;
		}
	}
	return fd;
}

int wc_bpf__redirect_prog(int map_fd, int arrival_fd, int timestamps, char *log, size_t log_size)
{
	/*
	 * r6 = ctx; r7 = bpf_ktime_get_ns();
	 * [arrivals[rx_queue_index]: first_ns (once), last_ns = r7;]
	 * [stamp the metadata block;]
	 * return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS).
	 * The stamping follows the data_meta pattern of
	 * Documentation/networking/xdp-rx-metadata.rst: grow the metadata
	 * area, bounds-check it against data for the verifier, then write.
	 */
	struct bpf_insn head[] = {
		MOV_REG(BPF_REG_6, BPF_REG_1),
		CALL(BPF_FUNC_ktime_get_ns),
		MOV_REG(BPF_REG_7, BPF_REG_0),
	};
	struct bpf_insn arrival[] = {
		/* 0 */ LDX_W(BPF_REG_2, BPF_REG_6, MD_RXQ),
		/* 1 */ STX_W(BPF_REG_10, BPF_REG_2, -4),
		/* 2 */ insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, arrival_fd),
		/* 3 */ insn(0, 0, 0, 0, 0),
		/* 4 */ MOV_REG(BPF_REG_2, BPF_REG_10),
		/* 5 */ ADD_IMM(BPF_REG_2, -4),
		/* 6 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 7 */ JEQ_IMM(BPF_REG_0, 0, 6), /* -> 14: no entry for this queue */
		/* 8 */ LDX_DW(BPF_REG_1, BPF_REG_0, offsetof(struct wc_xdp_arrival, first_ns)),
		/* 9 */ JNE_IMM(BPF_REG_1, 0, 1), /* -> 11 */
		/* 10 */ STX_DW(BPF_REG_0, BPF_REG_7, offsetof(struct wc_xdp_arrival, first_ns)),
		/* 11 */ STX_DW(BPF_REG_0, BPF_REG_7, offsetof(struct wc_xdp_arrival, last_ns)),
		/* 12 */ MOV_IMM(BPF_REG_1, 1),
		/* 13 */ ATOMIC_ADD_DW(BPF_REG_0, BPF_REG_1, offsetof(struct wc_xdp_arrival, frames)),
	};
	struct bpf_insn stamp[] = {
		/* 0 */ MOV_REG(BPF_REG_1, BPF_REG_6),
		/* 1 */ MOV_IMM(BPF_REG_2, -META_LEN),
		/* 2 */ CALL(BPF_FUNC_xdp_adjust_meta),
		/* 3 */ JNE_IMM(BPF_REG_0, 0, 9), /* -> 13: no room, redirect unstamped */
		/* 4 */ LDX_W(BPF_REG_2, BPF_REG_6, MD_DATA_META),
		/* 5 */ LDX_W(BPF_REG_3, BPF_REG_6, MD_DATA),
		/* 6 */ MOV_REG(BPF_REG_4, BPF_REG_2),
		/* 7 */ ADD_IMM(BPF_REG_4, META_LEN),
		/* 8 */ JGT_REG(BPF_REG_4, BPF_REG_3, 4), /* -> 13 */
		/* 9 */ STX_DW(BPF_REG_2, BPF_REG_7, offsetof(struct wc_xdp_meta, ts_ns)),
		/* 10 */ ST_W(BPF_REG_2, offsetof(struct wc_xdp_meta, magic), (int32_t)WC_XDP_META_MAGIC),
		/* 11 */ LDX_W(BPF_REG_5, BPF_REG_6, MD_RXQ),
		/* 12 */ STX_W(BPF_REG_2, BPF_REG_5, offsetof(struct wc_xdp_meta, rx_queue)),
	};
	struct bpf_insn redirect[] = {
		/* 13 */ LDX_W(BPF_REG_2, BPF_REG_6, MD_RXQ),
		insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		insn(0, 0, 0, 0, 0),
		MOV_IMM(BPF_REG_3, XDP_PASS),
		CALL(BPF_FUNC_redirect_map),
		EXIT(),
	};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
	struct bpf_insn prog[N_OF(head) + N_OF(arrival) + N_OF(stamp) + N_OF(redirect)];
	uint32_t n = 0, i;

	for (i = 0; i < N_OF(head); i++)
		prog[n++] = head[i];
	if (arrival_fd >= 0)
		for (i = 0; i < N_OF(arrival); i++)
			prog[n++] = arrival[i];
	if (timestamps)
		for (i = 0; i < N_OF(stamp); i++)
			prog[n++] = stamp[i];
	for (i = 0; i < N_OF(redirect); i++)
		prog[n++] = redirect[i];
#undef N_OF
	return prog_load(prog, n, "wc_redirect", log, log_size);
}

int wc_bpf__action_prog(uint32_t action)
{
	struct bpf_insn prog[] = { MOV_IMM(BPF_REG_0, (int32_t)action), EXIT() };

	return prog_load(prog, 2, "wc_action", NULL, 0);
}

int wc_bpf__xdp_link(int prog_fd, int ifindex, int mode)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog_fd;
	a.link_create.target_ifindex = (uint32_t)ifindex;
	a.link_create.attach_type = BPF_XDP;
	a.link_create.flags = mode ? WC_XDP_FLAGS_SKB_MODE : WC_XDP_FLAGS_DRV_MODE;
	return sys_bpf(BPF_LINK_CREATE, &a);
}

int wc_bpf__pin(int fd, const char *path)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.bpf_fd = (uint32_t)fd;
	a.pathname = (uint64_t)(uintptr_t)path;
	return sys_bpf(BPF_OBJ_PIN, &a);
}

int wc_bpf__get(const char *path)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)path;
	return sys_bpf(BPF_OBJ_GET, &a);
}

int wc_bpf__prog_id(int prog_fd, uint32_t *id)
{
	struct bpf_prog_info info;
	union bpf_attr a;
	int rc;

	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)prog_fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	rc = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a);
	if (rc < 0)
		return rc;
	*id = info.id;
	return 0;
}

int wc_bpf__live_frames(int prog_fd, int ifindex, const void *frame, uint32_t len,
			uint32_t repeat, uint32_t batch, uint64_t *elapsed_ns)
{
	struct xdp_md ctx;
	union bpf_attr a;
	uint64_t t0;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ingress_ifindex = (uint32_t)ifindex;
	ctx.rx_queue_index = 0;
	ctx.data_end = len; /* bpf_prog_test_run_xdp: data_end must equal data_size_in */
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog_fd;
	a.test.data_in = (uint64_t)(uintptr_t)frame;
	a.test.data_size_in = len;
	a.test.ctx_in = (uint64_t)(uintptr_t)&ctx;
	a.test.ctx_size_in = sizeof(ctx);
	a.test.repeat = repeat;
	a.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	a.test.batch_size = batch;
	t0 = wc_sys__mono_ns();
	rc = sys_bpf(BPF_PROG_TEST_RUN, &a);
	if (elapsed_ns)
		*elapsed_ns = wc_sys__mono_ns() - t0;
	return rc < 0 ? rc : 0;
}

/* ---- RSS steering (contract in wc_bpf.h) ---- */

/* include/uapi/linux/bpf.h (kernel >= 6.6; the build host's headers may be older) */
#define WC_BPF_TCX_EGRESS 47
/* include/uapi/linux/membarrier.h */
#define WC_MEMBARRIER_CMD_GLOBAL 1
#define SKB_DATA offsetof(struct __sk_buff, data)
#define SKB_DATA_END offsetof(struct __sk_buff, data_end)
#define SKB_QUEUE_MAPPING offsetof(struct __sk_buff, queue_mapping)
#define TABLE_ROW 1024 /* 256 uint32_t per input byte */

static int array_create(const char *name, uint32_t value_size, uint32_t flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(uint32_t);
	a.value_size = value_size;
	a.max_entries = 1; /* one value, addressed directly (BPF_PSEUDO_MAP_VALUE needs 1 entry) */
	a.map_flags = flags;
	strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	return sys_bpf(BPF_MAP_CREATE, &a);
}

int wc_bpf__rss_maps(uint32_t n, int *fds)
{
	int i;

	if (!fds || !n || n > WC_RSS_BUCKETS_MAX || (n & (n - 1)))
		return -EINVAL;
	fds[0] = array_create("wc_rss_table", WC_RSS_INPUT_BYTES * TABLE_ROW, 0);
	fds[1] = array_create("wc_rss_steer", n * 4u, BPF_F_MMAPABLE);
	fds[2] = array_create("wc_rss_counts", WC_RSS_COUNTS(n) * 8u, BPF_F_MMAPABLE);
	for (i = 0; i < 3; i++) {
		if (fds[i] < 0) {
			int err = fds[i], j;

			for (j = 0; j < 3; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			return err;
		}
	}
	return 0;
}

/* a tiny assembler: forward jumps to labels, fixed up at the end */
struct bpf_asm {
	struct bpf_insn p[160];
	uint32_t n;
	int32_t at[8];
	struct {
		uint32_t insn;
		int label;
	} fix[24];
	uint32_t nfix;
};

static void emit(struct bpf_asm *a, struct bpf_insn i)
{
	if (a->n < sizeof(a->p) / sizeof(a->p[0]))
		a->p[a->n] = i;
	a->n++;
}

static void emit_jump(struct bpf_asm *a, struct bpf_insn i, int label)
{
	if (a->nfix < sizeof(a->fix) / sizeof(a->fix[0])) {
		a->fix[a->nfix].insn = a->n;
		a->fix[a->nfix].label = label;
	}
	a->nfix++;
	emit(a, i);
}

static void emit_map_value(struct bpf_asm *a, int reg, int fd)
{
	emit(a, insn(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_VALUE, 0, fd));
	emit(a, insn(0, 0, 0, 0, 0)); /* offset 0 into the value */
}

/* h ^= table[row][*(u8 *)(ptr + off)] */
static void emit_toeplitz_byte(struct bpf_asm *a, int ptr, int16_t off, int row)
{
	emit(a, LDX_B(BPF_REG_0, ptr, off));
	emit(a, LSH_IMM(BPF_REG_0, 2));
	emit(a, ADD_REG(BPF_REG_0, BPF_REG_9));
	emit(a, LDX_W(BPF_REG_0, BPF_REG_0, (int16_t)(row * TABLE_ROW)));
	emit(a, XOR_REG(BPF_REG_7, BPF_REG_0));
}

int wc_bpf__rss_prog(int table_fd, int steer_fd, int counts_fd, uint32_t n, char *log, size_t log_size)
{
	enum { L_UNHASHED, L_HASHED, L_STEER };
	struct bpf_asm a;
	uint32_t i;
	int k;

	if (!n || n > WC_RSS_BUCKETS_MAX || (n & (n - 1)))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	/* r6 = skb, r7 = hash, r8 = counts, r9 = table, r2/r3 = data/data_end */
	emit(&a, MOV_REG(BPF_REG_6, BPF_REG_1));
	emit(&a, MOV_IMM(BPF_REG_7, 0));
	emit_map_value(&a, BPF_REG_8, counts_fd);
	emit_map_value(&a, BPF_REG_9, table_fd);
	emit(&a, LDX_W(BPF_REG_2, BPF_REG_6, SKB_DATA));
	emit(&a, LDX_W(BPF_REG_3, BPF_REG_6, SKB_DATA_END));
	/* Ethernet + a minimal IPv4 header in the linear part */
	emit(&a, MOV_REG(BPF_REG_4, BPF_REG_2));
	emit(&a, ADD_IMM(BPF_REG_4, 34));
	emit_jump(&a, JGT_REG(BPF_REG_4, BPF_REG_3, 0), L_UNHASHED);
	/* EtherType 0x0800, loaded little-endian */
	emit(&a, LDX_H(BPF_REG_4, BPF_REG_2, 12));
	emit_jump(&a, JNE_IMM(BPF_REG_4, 0x0008, 0), L_UNHASHED);
	/* version 4, IHL >= 5; r4 = header length in bytes */
	emit(&a, LDX_B(BPF_REG_4, BPF_REG_2, 14));
	emit(&a, MOV_REG(BPF_REG_5, BPF_REG_4));
	emit(&a, RSH_IMM(BPF_REG_5, 4));
	emit_jump(&a, JNE_IMM(BPF_REG_5, 4, 0), L_UNHASHED);
	emit(&a, AND_IMM(BPF_REG_4, 0xf));
	emit_jump(&a, JLT_IMM(BPF_REG_4, 5, 0), L_UNHASHED);
	emit(&a, LSH_IMM(BPF_REG_4, 2));
	/* source and destination address: input bytes 0..7 (IP header bytes 12..19) */
	for (k = 0; k < 8; k++)
		emit_toeplitz_byte(&a, BPF_REG_2, (int16_t)(26 + k), k);
	/* TCP and not a fragment (MF clear, offset 0: bytes 20-21 & 0x3fff):
	 * the ports too (datasheet §7.1.2.8.1; rss.py: fragments on addresses) */
	emit(&a, LDX_B(BPF_REG_5, BPF_REG_2, 23));
	emit_jump(&a, JNE_IMM(BPF_REG_5, 6, 0), L_HASHED);
	emit(&a, LDX_H(BPF_REG_5, BPF_REG_2, 20));
	emit(&a, AND_IMM(BPF_REG_5, 0xff3f)); /* little-endian view of 0x3fff */
	emit_jump(&a, JNE_IMM(BPF_REG_5, 0, 0), L_HASHED);
	emit(&a, ADD_REG(BPF_REG_4, BPF_REG_2));
	emit(&a, ADD_IMM(BPF_REG_4, 14));
	emit(&a, MOV_REG(BPF_REG_5, BPF_REG_4));
	emit(&a, ADD_IMM(BPF_REG_5, 4));
	emit_jump(&a, JGT_REG(BPF_REG_5, BPF_REG_3, 0), L_HASHED); /* ports not linear: addresses only */
	for (k = 0; k < 4; k++)
		emit_toeplitz_byte(&a, BPF_REG_4, (int16_t)k, 8 + k);
	a.at[L_HASHED] = (int32_t)a.n;
	emit(&a, STX_DW(BPF_REG_8, BPF_REG_7, (int16_t)(WC_RSS_COUNT_LAST_HASH(n) * 8)));
	emit(&a, MOV_REG(BPF_REG_1, BPF_REG_7));
	emit(&a, AND_IMM(BPF_REG_1, (int32_t)(n - 1)));
	emit(&a, MOV_REG(BPF_REG_2, BPF_REG_1));
	emit(&a, LSH_IMM(BPF_REG_2, 3));
	emit(&a, ADD_REG(BPF_REG_2, BPF_REG_8));
	emit(&a, MOV_IMM(BPF_REG_3, 1));
	emit(&a, ATOMIC_ADD_DW(BPF_REG_2, BPF_REG_3, 0));
	emit_map_value(&a, BPF_REG_2, steer_fd);
	emit(&a, LSH_IMM(BPF_REG_1, 2));
	emit(&a, ADD_REG(BPF_REG_2, BPF_REG_1));
	emit(&a, LDX_W(BPF_REG_4, BPF_REG_2, 0));
	emit_jump(&a, JA(0), L_STEER);
	a.at[L_UNHASHED] = (int32_t)a.n;
	emit(&a, MOV_IMM(BPF_REG_3, 1));
	emit(&a, ATOMIC_ADD_DW(BPF_REG_8, BPF_REG_3, (int16_t)(WC_RSS_COUNT_UNHASHED(n) * 8)));
	emit(&a, MOV_IMM(BPF_REG_4, 0));
	a.at[L_STEER] = (int32_t)a.n;
	emit(&a, AND_IMM(BPF_REG_4, (int32_t)(WC_RSS_QUEUES - 1)));
	emit(&a, MOV_REG(BPF_REG_2, BPF_REG_4));
	emit(&a, LSH_IMM(BPF_REG_2, 3));
	emit(&a, ADD_REG(BPF_REG_2, BPF_REG_8));
	emit(&a, MOV_IMM(BPF_REG_3, 1));
	emit(&a, ATOMIC_ADD_DW(BPF_REG_2, BPF_REG_3, (int16_t)(WC_RSS_COUNT_STEERED(n, 0) * 8)));
	/* queue_mapping = queue + 1: a recorded queue (skb_record_rx_queue's
	 * encoding), which skb_tx_hash turns into transmit queue `queue` */
	emit(&a, ADD_IMM(BPF_REG_4, 1));
	emit(&a, STX_W(BPF_REG_6, BPF_REG_4, SKB_QUEUE_MAPPING));
	emit(&a, MOV_IMM(BPF_REG_0, 0)); /* TCX_PASS (TC_ACT_OK) */
	emit(&a, EXIT());
	if (a.n > sizeof(a.p) / sizeof(a.p[0]) || a.nfix > sizeof(a.fix) / sizeof(a.fix[0]))
		return -E2BIG;
	for (i = 0; i < a.nfix; i++)
		a.p[a.fix[i].insn].off = (int16_t)(a.at[a.fix[i].label] - (int32_t)a.fix[i].insn - 1);
	{
		union bpf_attr at;
		int fd;

		memset(&at, 0, sizeof(at));
		at.prog_type = BPF_PROG_TYPE_SCHED_CLS;
		at.expected_attach_type = WC_BPF_TCX_EGRESS;
		at.insns = (uint64_t)(uintptr_t)a.p;
		at.insn_cnt = a.n;
		at.license = (uint64_t)(uintptr_t)"Dual BSD/GPL";
		strncpy(at.prog_name, "wc_rss", sizeof(at.prog_name) - 1);
		fd = sys_bpf(BPF_PROG_LOAD, &at);
		if (fd < 0 && log && log_size > 1) {
			int err = fd;

			memset(log, 0, log_size);
			at.log_buf = (uint64_t)(uintptr_t)log;
			at.log_size = (uint32_t)(log_size > 0xffffff ? 0xffffff : log_size);
			at.log_level = 1;
			fd = sys_bpf(BPF_PROG_LOAD, &at);
			if (fd >= 0) {
				close(fd);
				fd = err;
			}
		}
		return fd;
	}
}

int wc_bpf__tcx_egress_link(int prog_fd, int ifindex)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog_fd;
	a.link_create.target_ifindex = (uint32_t)ifindex;
	a.link_create.attach_type = WC_BPF_TCX_EGRESS;
	return sys_bpf(BPF_LINK_CREATE, &a);
}

int wc_bpf__map_update(int map_fd, uint32_t key, const void *value)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)value;
	a.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

static size_t page_round(size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t p = pg > 0 ? (size_t)pg : 4096u;

	return (size + p - 1) / p * p;
}

void *wc_bpf__map_mmap(int map_fd, size_t size)
{
	void *p = mmap(NULL, page_round(size), PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

void wc_bpf__map_munmap(void *addr, size_t size)
{
	if (addr)
		munmap(addr, page_round(size));
}

int wc_bpf__test_run_skb(int prog_fd, const void *frame, uint32_t len, uint32_t *retval)
{
	union bpf_attr a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog_fd;
	a.test.data_in = (uint64_t)(uintptr_t)frame;
	a.test.data_size_in = len;
	a.test.repeat = 1;
	rc = sys_bpf(BPF_PROG_TEST_RUN, &a);
	if (rc < 0)
		return rc;
	if (retval)
		*retval = a.test.retval;
	return 0;
}

int wc_bpf__sync_rcu(void)
{
	long rc = syscall(__NR_membarrier, WC_MEMBARRIER_CMD_GLOBAL, 0, 0);

	return rc < 0 ? -errno : 0;
}
