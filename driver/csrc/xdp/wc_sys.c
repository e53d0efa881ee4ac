/* SPDX-License-Identifier: BSD-3-Clause */
/* System services of the real backend; contract in wc_sys.h. */
#define _GNU_SOURCE
#include "wc_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int wc_sys__netns_enter(const char *path, int *saved_fd)
{
	int self, target, err;

	if (!path || !saved_fd)
		return -EINVAL;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		err = -errno;
		goto err_self;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		err = -errno;
		goto err_target;
	}
	close(target);
	*saved_fd = self;
	return 0;

err_target:
	close(target);
err_self:
	close(self);
	return err;
}

int wc_sys__netns_leave(int saved_fd)
{
	int err = 0;

	if (saved_fd < 0)
		return -EBADF;
	if (setns(saved_fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(saved_fd);
	return err;
}

int wc_sys__ifindex(const char *ifname)
{
	unsigned int idx = if_nametoindex(ifname);

	return idx ? (int)idx : -ENODEV;
}

static int ethtool_ioctl(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

int wc_sys__ethtool_stats(const char *ifname, char *names, uint64_t *values, uint32_t max)
{
	struct ethtool_gstrings *strs = NULL;
	struct ethtool_stats *st = NULL;
	struct {
		struct ethtool_sset_info hdr;
		uint32_t len;
	} sset = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ull << ETH_SS_STATS } };
	uint32_t n, i;
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = ethtool_ioctl(fd, ifname, &sset);
	if (err)
		goto out;
	n = sset.hdr.sset_mask ? sset.len : 0;
	strs = calloc(1, sizeof(*strs) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(uint64_t));
	if (!strs || !st) {
		err = -ENOMEM;
		goto out;
	}
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = ETH_SS_STATS;
	strs->len = n;
	err = ethtool_ioctl(fd, ifname, strs);
	if (err)
		goto out;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	err = ethtool_ioctl(fd, ifname, st);
	if (err)
		goto out;
	for (i = 0; i < n && i < max; i++) {
		memcpy(names + (size_t)i * WC_STAT_NAME_LEN, strs->data + (size_t)i * ETH_GSTRING_LEN,
		       WC_STAT_NAME_LEN);
		names[(size_t)i * WC_STAT_NAME_LEN + WC_STAT_NAME_LEN - 1] = '\0';
		values[i] = st->data[i];
	}
	err = (int)n;
out:
	free(strs);
	free(st);
	close(fd);
	return err;
}

int wc_sys__mount_bpffs(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Documentation/bpf: pinned objects live in a "bpf" filesystem */
	if (mount("bpf", dir, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

int wc_sys__umount(const char *dir)
{
	if (umount2(dir, MNT_DETACH) < 0)
		return -errno;
	return 0;
}

int wc_sys__pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

uint64_t wc_sys__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t wc_sys__real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void wc_sys__sleep_until(uint64_t mono_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(mono_ns / 1000000000ull),
			       .tv_nsec = (long)(mono_ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
