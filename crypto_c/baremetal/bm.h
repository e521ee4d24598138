/* SPDX-License-Identifier: MIT */
#ifndef VW_BM_H
#define VW_BM_H
#include <stdint.h>

#define BM_SYSCLK_HZ 25000000u /* MPS2 SYSCLK in QEMU */
#define BM_NS_PER_TICK (1000000000u / BM_SYSCLK_HZ)

void bm_clock_start(void);
uint64_t bm_ticks(void); /* SysTick ticks (25 MHz) since bm_clock_start() */

#endif
