/* SPDX-License-Identifier: BSD-3-Clause */
/* The engine models by enum sim_engine (sim.h): the one table the main
 * loop picks a run's engine from (sim_engine.h). */
#include "sim_engine.h"

const struct sim_engine_ops *const sim_engines[] = {
	[SIM_ENGINE_WIRECAP] = &sim_engine_wirecap,
	[SIM_ENGINE_DNA] = &sim_engine_dna,
	[SIM_ENGINE_NETMAP] = &sim_engine_netmap,
	[SIM_ENGINE_PFRING] = &sim_engine_pfring,
	[SIM_ENGINE_DPDK] = &sim_engine_dpdk,
};

const uint32_t sim_n_engines = sizeof(sim_engines) / sizeof(sim_engines[0]);
