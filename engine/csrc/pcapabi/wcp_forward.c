/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The system's libpcap behind this one.
 *
 * It is loaded by absolute path (the build records where the system keeps
 * libpcap.so.0.8; WIRECAP_PCAP_SYSTEM_LIB overrides it), since by soname
 * the dynamic linker would find this library again through
 * LD_LIBRARY_PATH. RTLD_DEEPBIND makes the system library bind its calls
 * to its own functions first: pcap_open_live calling pcap_create inside
 * libpcap must reach libpcap's, not ours.
 *
 * A forwarded function is a jump through its pointer, written in assembly
 * so that it passes every argument and the return value as they are,
 * whatever the signature (the technique of lazy-loading import stubs).
 */
#define _GNU_SOURCE
#include "wcp.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef WCP_SYSTEM_LIB
#error "the build defines WCP_SYSTEM_LIB: the system's libpcap.so.0.8"
#endif

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* forwarded all the same */
#define WCP_REAL_DEF(name) __typeof__(name) *wcp_real_##name;
WCP_OWN(WCP_REAL_DEF)
WCP_FORWARDED(WCP_REAL_DEF)

#if defined(__x86_64__)
#define WCP_JUMP(name)                                                                     \
	__asm__(".text\n.globl " #name "\n.type " #name ",@function\n.p2align 4\n" #name ":\n" \
		"\tjmp *wcp_real_" #name "(%rip)\n.size " #name ",.-" #name "\n");
#elif defined(__aarch64__)
#define WCP_JUMP(name)                                                                     \
	__asm__(".text\n.globl " #name "\n.type " #name ",%function\n.p2align 4\n" #name ":\n" \
		"\tadrp x16, wcp_real_" #name "\n\tldr x16, [x16, :lo12:wcp_real_" #name "]\n"     \
		"\tbr x16\n.size " #name ",.-" #name "\n");
#else
#error "forwarding stubs are written for x86_64 and aarch64"
#endif
WCP_FORWARDED(WCP_JUMP)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[PCAP_ERRBUF_SIZE];
static const char *system_path = WCP_SYSTEM_LIB;
static void *system_lib;

/* a symbol only this library has: loading ourselves as "the system's" is refused */
__attribute__((visibility("default"))) const char wcp_is_wirecap[] = "WireCAP";

static void load(void)
{
	const char *env = getenv(WCP_ENV_PREFIX "SYSTEM_LIB");
	void *lib;

	if (env && *env)
		system_path = env;
	lib = dlopen(system_path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!lib) {
		snprintf(load_error, sizeof(load_error),
			 "WireCAP's libpcap: cannot load the system's libpcap %s (%s); install libpcap0.8 "
			 "or set " WCP_ENV_PREFIX "SYSTEM_LIB to its path", system_path, dlerror());
		return;
	}
	if (dlsym(lib, "wcp_is_wirecap")) {
		snprintf(load_error, sizeof(load_error),
			 "WireCAP's libpcap: %s is WireCAP's own library, not the system's; set "
			 WCP_ENV_PREFIX "SYSTEM_LIB to the system's libpcap.so.0.8", system_path);
		dlclose(lib);
		return;
	}
#define WCP_RESOLVE(name)                                                                 \
	if (!(wcp_real_##name = (__typeof__(name) *)dlsym(lib, #name))) {                 \
		snprintf(load_error, sizeof(load_error),                                  \
			 "WireCAP's libpcap: the system's %s has no %s (libpcap >= 1.10 needed)", \
			 system_path, #name);                                             \
		return;                                                                   \
	}
	WCP_OWN(WCP_RESOLVE)
	WCP_FORWARDED(WCP_RESOLVE)
	system_lib = lib;
}

int wcp_system_load(char *errbuf)
{
	pthread_once(&once, load);
	if (system_lib)
		return 0;
	if (errbuf)
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", load_error);
	return -1;
}

const char *wcp_system_path(void)
{
	return system_path;
}

/* Load before main(): a forwarded function is a bare jump and cannot load
 * anything itself. A failure is reported by the first wirecap call, and a
 * forwarded call before a successful load would jump to NULL, so say it
 * on stderr and stop here instead. */
__attribute__((constructor)) static void wcp_load_early(void)
{
	if (wcp_system_load(NULL) < 0) {
		fprintf(stderr, "%s\n", load_error);
		abort();
	}
}
