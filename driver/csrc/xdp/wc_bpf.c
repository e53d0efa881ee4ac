/* SPDX-License-Identifier: BSD-3-Clause */
/* BPF objects through bpf(2); contract in wc_bpf.h. */
#define _GNU_SOURCE
#include "wc_bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
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
	struct wc_xdp_arrival zero = { 0, 0 };
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
		/* 7 */ JEQ_IMM(BPF_REG_0, 0, 4), /* -> 12: no entry for this queue */
		/* 8 */ LDX_DW(BPF_REG_1, BPF_REG_0, offsetof(struct wc_xdp_arrival, first_ns)),
		/* 9 */ JNE_IMM(BPF_REG_1, 0, 1), /* -> 11 */
		/* 10 */ STX_DW(BPF_REG_0, BPF_REG_7, offsetof(struct wc_xdp_arrival, first_ns)),
		/* 11 */ STX_DW(BPF_REG_0, BPF_REG_7, offsetof(struct wc_xdp_arrival, last_ns)),
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
