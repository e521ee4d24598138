/* SPDX-License-Identifier: MIT */
/*
 * Minimal Cortex-M4 start-up for the bare-metal modexp test under QEMU mps2-an386.
 * Reset copies .data to RAM, then hands over to newlib's rdimon crt0 (_start), which
 * clears .bss, sets up semihosting stdio and calls main(); exit() leaves QEMU through
 * semihosting with main's status.
 *
 * Clock: SysTick on the processor clock (25 MHz in QEMU's MPS2 model), free-running
 * with a wrap counter, so bm_ticks() is a 64-bit count of 40 ns ticks. Under
 * `qemu -icount shift=0` one instruction takes exactly 1 ns of virtual time, so
 * bm_ticks() * 40 is the number of executed instructions (40-instruction resolution).
 */
#include <stdint.h>

#include "bm.h"

extern uint32_t _sidata, _sdata, _edata;
extern void _start(void);

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04)
#define ICSR_PENDSTSET (1u << 26)
#define SYST_PERIOD (1u << 24)

static volatile uint32_t systick_wraps;

void Reset_Handler(void) {
    for (uint32_t *s = &_sidata, *d = &_sdata; d < &_edata;) {
        *d++ = *s++;
    }
    _start();
    for (;;) {
    }
}

static void Default_Handler(void) {
    for (;;) {
    }
}

static void SysTick_Handler(void) {
    systick_wraps++;
}

void bm_clock_start(void) {
    SYST_RVR = SYST_PERIOD - 1;
    SYST_CVR = 0;
    SYST_CSR = 7; /* processor clock, interrupt, enable */
    while (SYST_CVR == 0) {
        /* the counter loads RVR on its first tick; before that CVR reads 0 */
    }
}

uint64_t bm_ticks(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    uint32_t w = systick_wraps;
    uint32_t cvr = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) {
        cvr = SYST_CVR;
        w++;
    }
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
    return ((uint64_t)w << 24) + (SYST_PERIOD - 1 - cvr);
}

extern uint32_t __stack_top;

__attribute__((section(".isr_vector"), used))
const void *const vector_table[16] = {
    &__stack_top,
    (const void *)Reset_Handler,
    (const void *)Default_Handler, /* NMI */
    (const void *)Default_Handler, /* HardFault */
    (const void *)Default_Handler, /* MemManage */
    (const void *)Default_Handler, /* BusFault */
    (const void *)Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    (const void *)Default_Handler, /* SVC */
    (const void *)Default_Handler, /* DebugMon */
    0,
    (const void *)Default_Handler, /* PendSV */
    (const void *)SysTick_Handler,
};
