/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_sys: the small system services the real backend needs around its
 * sockets: entering a network namespace on the calling thread, per-queue
 * NIC counters (ethtool), a bpffs mount, thread pinning and the clock.
 *
 * Network namespaces are per thread (setns(2) with CLONE_NEWNET changes
 * only the calling thread), and a socket stays in the namespace it was
 * created in. So the pattern is: enter, create the socket or resolve the
 * ifindex, leave. Every function returns 0 (or a count) or a negative errno.
 */
#ifndef WC_SYS_H
#define WC_SYS_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* ethtool's ETH_GSTRING_LEN (include/uapi/linux/ethtool.h) */
#define WC_STAT_NAME_LEN 32u

/* Enter the namespace at path (e.g. /run/netns/NAME) on this thread; the
 * fd of the namespace left behind is stored in *saved_fd. */
int wc_sys__netns_enter(const char *path, int *saved_fd);
/* Return to the namespace saved by wc_sys__netns_enter and close saved_fd. */
int wc_sys__netns_leave(int saved_fd);

/* ifindex of ifname in the calling thread's namespace, or -ENODEV. */
int wc_sys__ifindex(const char *ifname);

/*
 * ETHTOOL_GSTATS of ifname (in the calling thread's namespace): up to max
 * counters, names in names[i * WC_STAT_NAME_LEN] (NUL-terminated). Returns
 * the number of counters the device has (which may exceed max).
 */
int wc_sys__ethtool_stats(const char *ifname, char *names, uint64_t *values, uint32_t max);

/* Mount a BPF filesystem at dir (created if missing); unmount it. */
int wc_sys__mount_bpffs(const char *dir);
int wc_sys__umount(const char *dir);

/* Pin the calling thread to one CPU (-1: leave it free). */
int wc_sys__pin_self(int cpu);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
uint64_t wc_sys__mono_ns(void);
uint64_t wc_sys__real_ns(void);

/* Sleep until an absolute CLOCK_MONOTONIC time (ns). */
void wc_sys__sleep_until(uint64_t mono_ns);

/* cffi:end */
#endif /* WC_SYS_H */
