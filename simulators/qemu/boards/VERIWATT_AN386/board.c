/* SPDX-License-Identifier: MIT */
/*
 * VERIWATT_AN386: what the veriwatt meter firmware needs beyond MicroPython's stock
 * qemu port (v1.25), for qemu-system-arm -M mps2-an386 (Cortex-M4).
 *
 *  - `time`: ticks_ms/ticks_us/ticks_cpu/ticks_diff/ticks_add/sleep/sleep_ms/sleep_us/
 *    time/time_ns, from SysTick clocked by the CPU clock (25 MHz on MPS2 in QEMU),
 *    with a 1 ms SysTick interrupt installed through a RAM vector table (VTOR) because
 *    the port's own SysTick_Handler is a fatal-error stub.
 *  - `select`: poll()/ipoll() on sys.stdin (CMSDK UART0 RX status) and streams
 *    (the port has MICROPY_PY_SELECT 0); needed by `mpremote mount`.
 *  - `vwboard`: ticks_ns() = virtual time in ns since boot (with `-icount shift=0` that is
 *    the number of executed instructions, 40-instruction resolution), cycles() (25 MHz),
 *    cmdline(), storage(), exit(code), and BlockDev(): the storage block device.
 *  - Storage: LittleFS v2 mounted at "/" on a block device that is either a host file
 *    reached through ARM semihosting (persists across QEMU runs; path from the semihosting
 *    command line `fs=PATH`) or, without `fs=`, a RAM disk in the MPS2 PSRAM at
 *    0x21000000 (survives soft resets only).
 *  - Boot: after every mp_init() mount the filesystem, sys.path = ['', '.frozen', '/lib'],
 *    run boot.py, then main.py in
 *    friendly-REPL mode (not in raw REPL mode, so mpremote's soft reset skips it).
 *    Semihosting command line word `safe` skips both scripts.
 *
 * Semihosting command line words (qemu -semihosting-config enable=on,target=native,
 * arg=firmware,arg=fs=/abs/path.img,...): fs=PATH, fs_size=BYTES (size of a NEW image,
 * default 2 MiB; a new image is written out in full with 0xff; an existing image keeps
 * its file size), safe.
 */
#include <stdint.h>
#include <string.h>

#include "py/runtime.h"
#include "py/smallint.h"
#include "py/mphal.h"
#include "py/lexer.h"
#include "py/compile.h"
#include "py/mperrno.h"
#include "py/stream.h"
#include "py/objlist.h"
#include "extmod/vfs.h"
#include "shared/runtime/pyexec.h"
#include "shared/runtime/semihosting_arm.h"

/******************************************************************************/
// Hard-float variant (VW_HARDFP=1, tools/build_qemu hardfp): enable the FPU at reset.
//
// The firmware is compiled with -mfloat-abi=hard -mfpu=fpv4-sp-d16, so any C function
// may contain VFP instructions, and with CP10/CP11 disabled (CPACR reset value 0) the
// first one raises a NOCP UsageFault. The port's mcu/arm/startup.c (Reset_Handler, then
// _start -> main) has no hook before C code runs, so this board puts its own vector table
// first in the image (section .vw_isr_vector, placed at address 0 by veriwatt_an386.ld):
// the same 16 entries as the port's isr_vector, except that the reset entry grants full
// access to CP10/CP11 (SCB->CPACR |= 0xf << 20, as the stm32 port's SystemInit and the
// samd port's Reset_Handler do), waits for it (dsb, isb) and then jumps to the port's
// unchanged Reset_Handler. Soft-float builds contain none of this.
#if VW_HARDFP
#if !defined(__ARM_FP) || defined(__SOFTFP__)
#error "VW_HARDFP needs -mfloat-abi=hard and an -mfpu (see mpconfigboard.mk)"
#endif

#define VW_SCB_CPACR_ADDR "0xE000ED88"

__attribute__((naked)) void vw_fpu_reset_handler(void) {
    __asm volatile (
        "ldr r0, =" VW_SCB_CPACR_ADDR "\n"
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xf << 20)\n" // CP10, CP11: full access
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n"
        "b Reset_Handler\n"
        );
}

extern uint32_t _estack;
extern void Reset_Handler(void);
extern void NMI_Handler(void);
extern void HardFault_Handler(void);
extern void MemManage_Handler(void);
extern void BusFault_Handler(void);
extern void UsageFault_Handler(void);
extern void SVC_Handler(void);
extern void DebugMon_Handler(void);
extern void PendSV_Handler(void);
extern void SysTick_Handler(void);

__attribute__((used, section(".vw_isr_vector"))) const uint32_t vw_isr_vector[16] = {
    (uint32_t)&_estack,
    (uint32_t)&vw_fpu_reset_handler,
    (uint32_t)&NMI_Handler,
    (uint32_t)&HardFault_Handler,
    (uint32_t)&MemManage_Handler,
    (uint32_t)&BusFault_Handler,
    (uint32_t)&UsageFault_Handler,
    0,
    0,
    0,
    0,
    (uint32_t)&SVC_Handler,
    (uint32_t)&DebugMon_Handler,
    0,
    (uint32_t)&PendSV_Handler,
    (uint32_t)&SysTick_Handler,
};
#endif

/******************************************************************************/
// Clock: SysTick on the processor clock, 1 ms period.

#define VW_SYSCLK_HZ (25000000u)          // MPS2 SYSCLK in QEMU (hw/arm/mps2.c)
#define VW_TICKS_PER_MS (VW_SYSCLK_HZ / 1000u)
#define VW_NS_PER_TICK (1000000000u / VW_SYSCLK_HZ)

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08)
#define ICSR_PENDSTSET (1u << 26)

#define VW_NVEC (16 + 32)
static uint32_t vw_vectors[VW_NVEC] __attribute__((aligned(256)));
static volatile uint32_t vw_systick_ms;
static int vw_clock_started;

static void vw_systick_handler(void) {
    vw_systick_ms++;
}

static void vw_clock_start(void) {
    const uint32_t *old = (const uint32_t *)SCB_VTOR;
    for (int i = 0; i < VW_NVEC; i++) {
        vw_vectors[i] = i < 16 ? old[i] : old[3]; // unused IRQs -> HardFault stub
    }
    vw_vectors[15] = (uint32_t)vw_systick_handler;
    __asm volatile ("dsb");
    SCB_VTOR = (uint32_t)vw_vectors;
    __asm volatile ("dsb\n isb");
    SYST_RVR = VW_TICKS_PER_MS - 1;
    SYST_CVR = 0;
    SYST_CSR = 7; // CLKSOURCE=CPU clock, TICKINT, ENABLE
    while (SYST_CVR == 0) {
        // the counter loads RVR on its first tick; before that CVR reads 0
    }
    vw_clock_started = 1;
}

// Time since the clock was started, as whole milliseconds plus SysTick ticks (25 MHz)
// into the current millisecond; exact and race-free. No 64-bit division (libgcc's
// __aeabi_uldivmod would drag in .ARM.exidx, which the port's linker script lacks).
static uint32_t vw_now(uint32_t *sub) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    uint32_t ms = vw_systick_ms;
    uint32_t cvr = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) {
        // wrapped, interrupt not yet taken: the count is in the new period
        cvr = SYST_CVR;
        ms++;
    }
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
    *sub = VW_TICKS_PER_MS - 1 - cvr;
    return ms;
}

// SysTick ticks (25 MHz) since boot.
static uint64_t vw_ticks(void) {
    uint32_t sub;
    uint32_t ms = vw_now(&sub);
    return (uint64_t)ms * VW_TICKS_PER_MS + sub;
}

uint64_t vw_ticks_ns(void) {
    return vw_ticks() * VW_NS_PER_TICK;
}

mp_uint_t mp_hal_ticks_ms(void) {
    uint32_t sub;
    return vw_now(&sub);
}

mp_uint_t mp_hal_ticks_us(void) {
    uint32_t sub;
    uint32_t ms = vw_now(&sub);
    return ms * 1000u + sub / (VW_SYSCLK_HZ / 1000000u); // wraps mod 2^32
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)vw_ticks();
}

uint64_t mp_hal_time_ns(void) {
    return vw_ticks_ns();
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = vw_ticks() + (uint64_t)us * (VW_SYSCLK_HZ / 1000000u);
    while (vw_ticks() < end) {
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = vw_ticks() + (uint64_t)ms * VW_TICKS_PER_MS;
    while (vw_ticks() < end) {
        mp_handle_pending(true);
        if (vw_ticks() < end) {
            __asm volatile ("wfi"); // woken by the next 1 ms SysTick
        }
    }
}

/******************************************************************************/
// `time` module (the stock qemu port has none).

#define TICKS_PERIOD (MICROPY_PY_TIME_TICKS_PERIOD)
#define TICKS_MAX (TICKS_PERIOD - 1)
#define TICKS_HALFPERIOD (TICKS_PERIOD / 2)

static mp_obj_t time_ticks_ms(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_ms_obj, time_ticks_ms);

static mp_obj_t time_ticks_us(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_us() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_us_obj, time_ticks_us);

static mp_obj_t time_ticks_cpu(void) {
    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_cpu() & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_cpu_obj, time_ticks_cpu);

static mp_obj_t time_ticks_diff(mp_obj_t end_in, mp_obj_t start_in) {
    mp_uint_t start = MP_OBJ_SMALL_INT_VALUE(start_in);
    mp_uint_t end = MP_OBJ_SMALL_INT_VALUE(end_in);
    mp_int_t diff = ((end - start + TICKS_HALFPERIOD) & TICKS_MAX) - TICKS_HALFPERIOD;
    return MP_OBJ_NEW_SMALL_INT(diff);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_diff_obj, time_ticks_diff);

static mp_obj_t time_ticks_add(mp_obj_t ticks_in, mp_obj_t delta_in) {
    mp_uint_t ticks = MP_OBJ_SMALL_INT_VALUE(ticks_in);
    mp_uint_t delta = mp_obj_get_int(delta_in);
    if (-(mp_int_t)delta > (mp_int_t)TICKS_HALFPERIOD || (mp_int_t)delta >= (mp_int_t)TICKS_HALFPERIOD) {
        mp_raise_msg(&mp_type_OverflowError, MP_ERROR_TEXT("ticks interval overflow"));
    }
    return MP_OBJ_NEW_SMALL_INT((ticks + delta) & TICKS_MAX);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_add_obj, time_ticks_add);

static mp_obj_t time_sleep(mp_obj_t seconds_in) {
    #if MICROPY_PY_BUILTINS_FLOAT
    mp_float_t s = mp_obj_get_float(seconds_in);
    if (s > 0) {
        mp_hal_delay_ms((mp_uint_t)(MICROPY_FLOAT_CONST(1000.0) * s + MICROPY_FLOAT_CONST(0.5)));
    }
    #else
    mp_int_t s = mp_obj_get_int(seconds_in);
    if (s > 0) {
        mp_hal_delay_ms(1000 * s);
    }
    #endif
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_obj, time_sleep);

static mp_obj_t time_sleep_ms(mp_obj_t arg) {
    mp_int_t ms = mp_obj_get_int(arg);
    if (ms > 0) {
        mp_hal_delay_ms(ms);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_ms_obj, time_sleep_ms);

static mp_obj_t time_sleep_us(mp_obj_t arg) {
    mp_int_t us = mp_obj_get_int(arg);
    if (us > 0) {
        mp_hal_delay_us(us);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_us_obj, time_sleep_us);

// Seconds since boot (virtual time): there is no RTC.
static mp_obj_t time_time(void) {
    return mp_obj_new_int_from_uint(mp_hal_ticks_ms() / 1000u);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_obj, time_time);

static mp_obj_t time_time_ns(void) {
    return mp_obj_new_int_from_ull(vw_ticks_ns());
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_ns_obj, time_time_ns);

static const mp_rom_map_elem_t vw_time_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_cpu), MP_ROM_PTR(&time_ticks_cpu_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&time_time_obj) },
    { MP_ROM_QSTR(MP_QSTR_time_ns), MP_ROM_PTR(&time_time_ns_obj) },
};
static MP_DEFINE_CONST_DICT(vw_time_globals, vw_time_globals_table);

const mp_obj_module_t vw_time_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&vw_time_globals,
};
MP_REGISTER_MODULE(MP_QSTR_time, vw_time_module);

/******************************************************************************/
// `select` (poll only): the port's mpconfigport.h sets MICROPY_PY_SELECT to 0 and its
// mp_hal_stdio_poll() is a stub, so stdin readiness is read from the CMSDK UART0 status
// register here. Needed by `mpremote mount` and by serial code with read timeouts.
// Other stream objects are polled through their MP_STREAM_POLL ioctl.

#define VW_UART0_STATE (*(volatile uint32_t *)0x40004004)
#define VW_UART_STATE_RXFULL (1u << 1)
#define VW_POLL_MAX 4

typedef struct _vw_poll_obj_t {
    mp_obj_base_t base;
    size_t n;
    mp_obj_t obj[VW_POLL_MAX];
    mp_uint_t events[VW_POLL_MAX];
} vw_poll_obj_t;

// shared/runtime/sys_stdio_mphal.c (no header declares it)
extern const struct _sys_stdio_obj_t mp_sys_stdin_obj;

static bool vw_is_stdio(mp_obj_t obj) {
    const mp_stream_p_t *sp = mp_get_stream(MP_OBJ_FROM_PTR(&mp_sys_stdin_obj));
    const mp_obj_type_t *type = mp_obj_get_type(obj);
    if (!MP_OBJ_TYPE_HAS_SLOT(type, protocol)) {
        return false;
    }
    const mp_stream_p_t *op = MP_OBJ_TYPE_GET_SLOT(type, protocol);
    return op->ioctl == sp->ioctl;
}

static mp_uint_t vw_poll_one(mp_obj_t obj, mp_uint_t events) {
    if (vw_is_stdio(obj)) {
        mp_uint_t r = events & MP_STREAM_POLL_WR;
        if ((events & MP_STREAM_POLL_RD) && (VW_UART0_STATE & VW_UART_STATE_RXFULL)) {
            r |= MP_STREAM_POLL_RD;
        }
        return r;
    }
    int errcode;
    mp_uint_t r = mp_get_stream_raise(obj, MP_STREAM_OP_IOCTL)->ioctl(obj, MP_STREAM_POLL, events, &errcode);
    if (r == MP_STREAM_ERROR) {
        return MP_STREAM_POLL_ERR;
    }
    return r;
}

static const mp_obj_type_t vw_poll_type;

static mp_obj_t vw_select_poll(void) {
    vw_poll_obj_t *self = mp_obj_malloc(vw_poll_obj_t, &vw_poll_type);
    self->n = 0;
    return MP_OBJ_FROM_PTR(self);
}
static MP_DEFINE_CONST_FUN_OBJ_0(vw_select_poll_obj, vw_select_poll);

static int vw_poll_find(vw_poll_obj_t *self, mp_obj_t obj) {
    for (size_t i = 0; i < self->n; i++) {
        if (self->obj[i] == obj) {
            return i;
        }
    }
    return -1;
}

static mp_obj_t vw_poll_register(size_t n_args, const mp_obj_t *args) {
    vw_poll_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_uint_t events = n_args > 2 ? mp_obj_get_int(args[2]) : (MP_STREAM_POLL_RD | MP_STREAM_POLL_WR);
    int i = vw_poll_find(self, args[1]);
    if (i < 0) {
        if (self->n == VW_POLL_MAX) {
            mp_raise_OSError(MP_ENOMEM);
        }
        i = self->n++;
        self->obj[i] = args[1];
    }
    self->events[i] = events;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vw_poll_register_obj, 2, 3, vw_poll_register);

static mp_obj_t vw_poll_unregister(mp_obj_t self_in, mp_obj_t obj) {
    vw_poll_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int i = vw_poll_find(self, obj);
    if (i >= 0) {
        self->n--;
        self->obj[i] = self->obj[self->n];
        self->events[i] = self->events[self->n];
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(vw_poll_unregister_obj, vw_poll_unregister);

static mp_obj_t vw_poll_modify(mp_obj_t self_in, mp_obj_t obj, mp_obj_t events) {
    vw_poll_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int i = vw_poll_find(self, obj);
    if (i < 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    self->events[i] = mp_obj_get_int(events);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(vw_poll_modify_obj, vw_poll_modify);

// poll([timeout_ms]) -> [(obj, events), ...]; ipoll() returns the same list (iterable).
static mp_obj_t vw_poll_poll(size_t n_args, const mp_obj_t *args) {
    vw_poll_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_int_t timeout = -1;
    if (n_args > 1 && args[1] != mp_const_none) {
        timeout = mp_obj_get_int(args[1]);
    }
    uint32_t start = mp_hal_ticks_ms();
    mp_uint_t ready[VW_POLL_MAX];
    for (;;) {
        size_t n_ready = 0;
        for (size_t i = 0; i < self->n; i++) {
            ready[i] = vw_poll_one(self->obj[i], self->events[i]) & (self->events[i] | MP_STREAM_POLL_ERR | MP_STREAM_POLL_HUP);
            n_ready += ready[i] != 0;
        }
        if (n_ready || (timeout >= 0 && (mp_int_t)(mp_hal_ticks_ms() - start) >= timeout)) {
            mp_obj_t list = mp_obj_new_list(0, NULL);
            for (size_t i = 0; i < self->n; i++) {
                if (ready[i]) {
                    mp_obj_t t[2] = { self->obj[i], MP_OBJ_NEW_SMALL_INT(ready[i]) };
                    mp_obj_list_append(list, mp_obj_new_tuple(2, t));
                }
            }
            return list;
        }
        mp_handle_pending(true);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vw_poll_poll_obj, 1, 3, vw_poll_poll);

static const mp_rom_map_elem_t vw_poll_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_register), MP_ROM_PTR(&vw_poll_register_obj) },
    { MP_ROM_QSTR(MP_QSTR_unregister), MP_ROM_PTR(&vw_poll_unregister_obj) },
    { MP_ROM_QSTR(MP_QSTR_modify), MP_ROM_PTR(&vw_poll_modify_obj) },
    { MP_ROM_QSTR(MP_QSTR_poll), MP_ROM_PTR(&vw_poll_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_ipoll), MP_ROM_PTR(&vw_poll_poll_obj) },
};
static MP_DEFINE_CONST_DICT(vw_poll_locals, vw_poll_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    vw_poll_type,
    MP_QSTR_poll,
    MP_TYPE_FLAG_NONE,
    locals_dict, &vw_poll_locals
    );

static const mp_rom_map_elem_t vw_select_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_select) },
    { MP_ROM_QSTR(MP_QSTR_poll), MP_ROM_PTR(&vw_select_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_POLLIN), MP_ROM_INT(MP_STREAM_POLL_RD) },
    { MP_ROM_QSTR(MP_QSTR_POLLOUT), MP_ROM_INT(MP_STREAM_POLL_WR) },
    { MP_ROM_QSTR(MP_QSTR_POLLERR), MP_ROM_INT(MP_STREAM_POLL_ERR) },
    { MP_ROM_QSTR(MP_QSTR_POLLHUP), MP_ROM_INT(MP_STREAM_POLL_HUP) },
};
static MP_DEFINE_CONST_DICT(vw_select_globals, vw_select_globals_table);

const mp_obj_module_t vw_select_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&vw_select_globals,
};
MP_REGISTER_MODULE(MP_QSTR_select, vw_select_module);

/******************************************************************************/
// ARM semihosting (bkpt 0xab; QEMU needs -semihosting-config enable=on,target=native), the
// command line and the storage image: shared with the stm32 emulation board.

#include "../../../common/vw_semihost.h"

/******************************************************************************/
// Block device for LittleFS: a semihosted host file, or a RAM disk in PSRAM.

#define VW_BLOCK_SIZE (4096u)
#define VW_DEFAULT_FS_SIZE (2u * 1024u * 1024u)
#define VW_PSRAM_BASE (0x21000000u) // 16 MiB PSRAM on MPS2 AN385/AN386
#define VW_PSRAM_SIZE (16u * 1024u * 1024u)

typedef struct _vw_bdev_obj_t {
    mp_obj_base_t base;
    int fd;             // semihosting handle, or -1 for the RAM disk
    uint32_t block_count;
    char path[200];
} vw_bdev_obj_t;

static const mp_obj_type_t vw_bdev_type;
static vw_bdev_obj_t vw_bdev = { { &vw_bdev_type }, -2, 0, "" };

static void vw_bdev_setup(void) {
    if (vw_bdev.fd != -2) {
        return;
    }
    uint32_t size;
    int fd = vw_image_open(vw_bdev.path, sizeof(vw_bdev.path), VW_DEFAULT_FS_SIZE, 4 * VW_BLOCK_SIZE, &size);
    if (fd != -1) {
        vw_bdev.fd = fd;
        vw_bdev.block_count = size / VW_BLOCK_SIZE;
        return;
    }
    if (vw_bdev.path[0]) {
        mp_printf(&mp_plat_print, "vwboard: cannot open %s, using a RAM disk\n", vw_bdev.path);
    }
    if (size > VW_PSRAM_SIZE) {
        size = VW_PSRAM_SIZE;
    }
    strcpy(vw_bdev.path, "ram");
    vw_bdev.fd = -1;
    vw_bdev.block_count = size / VW_BLOCK_SIZE;
}

static void vw_bdev_rw(vw_bdev_obj_t *self, size_t n_args, const mp_obj_t *args, bool write) {
    uint32_t block = mp_obj_get_int(args[1]);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[2], &bufinfo, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    uint32_t off = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    uint64_t pos = (uint64_t)block * VW_BLOCK_SIZE + off;
    if (block >= self->block_count || pos + bufinfo.len > (uint64_t)self->block_count * VW_BLOCK_SIZE) {
        mp_raise_OSError(MP_EINVAL);
    }
    if (self->fd < 0) {
        vw_ram_rw(VW_PSRAM_BASE, (uint32_t)pos, bufinfo.buf, bufinfo.len, write);
        return;
    }
    if (vw_image_rw(self->fd, (uint32_t)pos, bufinfo.buf, bufinfo.len, write) != 0) {
        mp_raise_OSError(MP_EIO);
    }
}

static mp_obj_t vw_bdev_readblocks(size_t n_args, const mp_obj_t *args) {
    vw_bdev_rw(MP_OBJ_TO_PTR(args[0]), n_args, args, false);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vw_bdev_readblocks_obj, 3, 4, vw_bdev_readblocks);

static mp_obj_t vw_bdev_writeblocks(size_t n_args, const mp_obj_t *args) {
    vw_bdev_rw(MP_OBJ_TO_PTR(args[0]), n_args, args, true);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vw_bdev_writeblocks_obj, 3, 4, vw_bdev_writeblocks);

static mp_obj_t vw_bdev_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    vw_bdev_obj_t *self = MP_OBJ_TO_PTR(self_in);
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(self->block_count);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(VW_BLOCK_SIZE);
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: // host file / RAM: nothing to erase
            return MP_OBJ_NEW_SMALL_INT(0);
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(vw_bdev_ioctl_obj, vw_bdev_ioctl);

static mp_obj_t vw_bdev_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    vw_bdev_setup();
    return MP_OBJ_FROM_PTR(&vw_bdev); // one storage per board
}

static void vw_bdev_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    vw_bdev_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<BlockDev %s %u x %u>", self->path, (unsigned)self->block_count, (unsigned)VW_BLOCK_SIZE);
}

static const mp_rom_map_elem_t vw_bdev_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&vw_bdev_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&vw_bdev_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&vw_bdev_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(vw_bdev_locals, vw_bdev_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    vw_bdev_type,
    MP_QSTR_BlockDev,
    MP_TYPE_FLAG_NONE,
    make_new, vw_bdev_make_new,
    print, vw_bdev_print,
    locals_dict, &vw_bdev_locals
    );

/******************************************************************************/
// `vwboard` module.

static mp_obj_t vwboard_ticks_ns(void) {
    return mp_obj_new_int_from_ull(vw_ticks_ns());
}
static MP_DEFINE_CONST_FUN_OBJ_0(vwboard_ticks_ns_obj, vwboard_ticks_ns);

static mp_obj_t vwboard_cycles(void) {
    return mp_obj_new_int_from_ull(vw_ticks());
}
static MP_DEFINE_CONST_FUN_OBJ_0(vwboard_cycles_obj, vwboard_cycles);

static mp_obj_t vwboard_cmdline(void) {
    return mp_obj_new_str(vw_cmdline_get(), strlen(vw_cmdline_get()));
}
static MP_DEFINE_CONST_FUN_OBJ_0(vwboard_cmdline_obj, vwboard_cmdline);

static mp_obj_t vwboard_storage(void) {
    vw_bdev_setup();
    return mp_obj_new_str(vw_bdev.path, strlen(vw_bdev.path));
}
static MP_DEFINE_CONST_FUN_OBJ_0(vwboard_storage_obj, vwboard_storage);

static mp_obj_t vwboard_exit(size_t n_args, const mp_obj_t *args) {
    mp_semihosting_exit(n_args ? mp_obj_get_int(args[0]) : 0);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vwboard_exit_obj, 0, 1, vwboard_exit);

static const mp_rom_map_elem_t vwboard_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_vwboard) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ns), MP_ROM_PTR(&vwboard_ticks_ns_obj) },
    { MP_ROM_QSTR(MP_QSTR_cycles), MP_ROM_PTR(&vwboard_cycles_obj) },
    { MP_ROM_QSTR(MP_QSTR_cmdline), MP_ROM_PTR(&vwboard_cmdline_obj) },
    { MP_ROM_QSTR(MP_QSTR_storage), MP_ROM_PTR(&vwboard_storage_obj) },
    { MP_ROM_QSTR(MP_QSTR_exit), MP_ROM_PTR(&vwboard_exit_obj) },
    { MP_ROM_QSTR(MP_QSTR_BlockDev), MP_ROM_PTR(&vw_bdev_type) },
    { MP_ROM_QSTR(MP_QSTR_SYSCLK_HZ), MP_ROM_INT(VW_SYSCLK_HZ) },
    { MP_ROM_QSTR(MP_QSTR_BLOCK_SIZE), MP_ROM_INT(VW_BLOCK_SIZE) },
};
static MP_DEFINE_CONST_DICT(vwboard_globals, vwboard_globals_table);

const mp_obj_module_t vwboard_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&vwboard_globals,
};
MP_REGISTER_MODULE(MP_QSTR_vwboard, vwboard_module);

/******************************************************************************/
// Boot: called at the end of every mp_init().

static const char vw_mount_py[] =
    "import sys, vfs, vwboard\n"
    "sys.path.append('/lib')\n"
    "def _mount():\n"
    "    bdev = vwboard.BlockDev()\n"
    "    try:\n"
    "        fs = vfs.VfsLfs2(bdev, mtime=False)\n"
    "    except OSError:\n"
    "        print('vwboard: formatting', vwboard.storage())\n"
    "        vfs.VfsLfs2.mkfs(bdev)\n"
    "        fs = vfs.VfsLfs2(bdev, mtime=False)\n"
    "    vfs.mount(fs, '/')\n"
    "_mount()\n";

static void vw_exec_str(const char *src, size_t len) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_str_len(MP_QSTR__boot_dot_py, src, len, 0);
        mp_obj_dict_t *globals = mp_obj_new_dict(4);
        mp_parse_compile_execute(lex, MP_PARSE_FILE_INPUT, globals, globals);
        nlr_pop();
    } else {
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

void vw_board_init(void) {
    if (!vw_clock_started) {
        vw_clock_start();
    }
    vw_exec_str(vw_mount_py, sizeof(vw_mount_py) - 1);
    if (vw_cmdline_value("safe", NULL, 0)) {
        return;
    }
    pyexec_file_if_exists("boot.py");
    if (pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL) {
        pyexec_file_if_exists("main.py");
    }
}
