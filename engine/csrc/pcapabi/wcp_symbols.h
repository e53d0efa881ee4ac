/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The libpcap ABI this library exports (the 96 dynamic symbols of Debian
 * 12's libpcap.so.0.8, libpcap 1.10.3; `nm -D --defined-only`), in two
 * lists:
 *
 *   WCP_FORWARDED  never see a live wirecap capture: every call goes to the
 *                  system's libpcap unchanged, through a one-instruction
 *                  jump (wcp_forward.c), whatever its signature. A wirecap
 *                  handle is itself a pcap_open_dead() handle of the system
 *                  library (wcp.h), so pcap_compile, pcap_dump_open,
 *                  pcap_datalink, pcap_geterr, ... work on it unchanged.
 *   WCP_OWN        implemented here (wcp_capture.c, wcp_devs.c): they
 *                  serve wirecap devices and hand every other handle or
 *                  device to the system's function of the same name.
 *
 * tests/test_pcap_abi.py checks that the two lists together are exactly
 * the system library's exports, so a libpcap with a new function is
 * noticed rather than left unresolved in some program.
 */
#ifndef WCP_SYMBOLS_H
#define WCP_SYMBOLS_H

#define WCP_FORWARDED(X)                                                                      \
	X(bpf_dump) X(bpf_filter) X(bpf_image) X(bpf_validate) X(pcap_compile)                 \
	X(pcap_compile_nopcap) X(pcap_datalink) X(pcap_datalink_ext)                           \
	X(pcap_datalink_name_to_val) X(pcap_datalink_val_to_description)                       \
	X(pcap_datalink_val_to_description_or_dlt) X(pcap_datalink_val_to_name) X(pcap_dump)   \
	X(pcap_dump_close) X(pcap_dump_file) X(pcap_dump_flush) X(pcap_dump_fopen)             \
	X(pcap_dump_ftell) X(pcap_dump_ftell64) X(pcap_dump_open) X(pcap_dump_open_append)     \
	X(pcap_ether_aton) X(pcap_ether_hostton) X(pcap_file) X(pcap_fopen_offline)            \
	X(pcap_fopen_offline_with_tstamp_precision) X(pcap_free_datalinks)                     \
	X(pcap_free_tstamp_types) X(pcap_freealldevs) X(pcap_freecode) X(pcap_geterr)          \
	X(pcap_init) X(pcap_is_swapped) X(pcap_list_datalinks) X(pcap_list_tstamp_types)       \
	X(pcap_lookupdev) X(pcap_major_version) X(pcap_minor_version) X(pcap_nametoaddr)       \
	X(pcap_nametoaddrinfo) X(pcap_nametoeproto) X(pcap_nametollc) X(pcap_nametonetaddr)    \
	X(pcap_nametoport) X(pcap_nametoportrange) X(pcap_nametoproto) X(pcap_next_etherent)   \
	X(pcap_offline_filter) X(pcap_open_dead) X(pcap_open_dead_with_tstamp_precision)       \
	X(pcap_open_offline) X(pcap_open_offline_with_tstamp_precision) X(pcap_perror)         \
	X(pcap_statustostr) X(pcap_strerror) X(pcap_tstamp_type_name_to_val)                   \
	X(pcap_tstamp_type_val_to_description) X(pcap_tstamp_type_val_to_name)

#define WCP_OWN(X)                                                                            \
	X(pcap_activate) X(pcap_breakloop) X(pcap_bufsize) X(pcap_can_set_rfmon) X(pcap_close) \
	X(pcap_create) X(pcap_dispatch) X(pcap_fileno) X(pcap_findalldevs)                     \
	X(pcap_get_required_select_timeout) X(pcap_get_selectable_fd)                          \
	X(pcap_get_tstamp_precision) X(pcap_getnonblock) X(pcap_inject) X(pcap_lib_version)    \
	X(pcap_lookupnet) X(pcap_loop) X(pcap_next) X(pcap_next_ex) X(pcap_open_live)          \
	X(pcap_sendpacket) X(pcap_set_buffer_size) X(pcap_set_datalink)                        \
	X(pcap_set_immediate_mode) X(pcap_set_promisc) X(pcap_set_protocol_linux)              \
	X(pcap_set_rfmon) X(pcap_set_snaplen) X(pcap_set_timeout)                              \
	X(pcap_set_tstamp_precision) X(pcap_set_tstamp_type) X(pcap_setdirection)              \
	X(pcap_setfilter) X(pcap_setnonblock) X(pcap_snapshot) X(pcap_stats)

/* data: pcap_version (a string, wcp_devs.c) and eproto_db (a table,
 * wcp_devs.c) are defined here, not forwarded: a program's copy
 * relocation reads them before any code of ours runs */

#endif /* WCP_SYMBOLS_H */
