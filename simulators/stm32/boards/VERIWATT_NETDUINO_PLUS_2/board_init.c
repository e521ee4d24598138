/* SPDX-License-Identifier: MIT */
/*
 * VERIWATT_NETDUINO_PLUS_2: the board code that lets MicroPython's unchanged stm32 port run
 * on QEMU's netduinoplus2 machine (STM32F405RG model without RCC, RTC, GPIO, flash
 * controller).  Three things, nothing else:
 *
 *  - SystemClock_Config(): the port's one (MP_WEAK, system_stm32.c) programs the PLL and
 *    spins until the RCC reports HSE ready, which QEMU never does.  QEMU clocks the
 *    Cortex-M4 core and SysTick at a fixed 168 MHz (hw/arm/netduinoplus2.c SYSCLK_FRQ),
 *    the same frequency the real board's PLL produces, so only SystemCoreClock is set and
 *    the 1 ms SysTick re-armed.
 *  - Storage: a block device for the port's storage layer (storage.c: MBR + FAT partition,
 *    pyb.Flash, mounted at /flash at every boot exactly as the internal-flash filesystem of a
 *    Nucleo board).  Backing: a HOST FILE reached through ARM semihosting (SYS_OPEN/SEEK/
 *    READ/WRITE; QEMU needs -semihosting-config enable=on,target=native), path from the
 *    semihosting command line word fs=PATH.  Every block write reaches the file before the
 *    call returns, so killing QEMU is a power cut: the file holds exactly what a flash chip
 *    would.  A new file is written out with 0xff to fs_size=BYTES (default 64 KiB, the
 *    Nucleo F401RE/F446RE internal filesystem size).  Without fs=: a RAM disk in the
 *    64 KiB SRAM region above 128 KiB (QEMU's SRAM is 192 KiB; survives soft resets only).
 *  - Boot: the semihosting word `safe` runs neither boot.py nor main.py (QEMU has no GPIO,
 *    so the port's user-switch safe mode cannot be used).
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "boardctrl.h"
#include "storage.h"

/******************************************************************************/
// Clock

#define VW_SYSCLK_HZ (168000000u)

void SystemClock_Config(void) {
    SystemCoreClock = VW_SYSCLK_HZ;
    HAL_InitTick(TICK_INT_PRIORITY);
}

/******************************************************************************/
// ARM semihosting (bkpt 0xab), the command line and the storage image: shared with the QEMU
// board (simulators/common/vw_semihost.h).

#include "../../../common/vw_semihost.h"

/******************************************************************************/
// Block device (512-byte blocks, FLASH_BLOCK_SIZE of the port's storage layer)

#define VW_BLOCK (FLASH_BLOCK_SIZE)
#define VW_DEFAULT_FS_SIZE (64u * 1024u)  // the Nucleo F401RE/F446RE internal filesystem
#define VW_RAMDISK_BASE (0x20020000u)     // QEMU SRAM above the F405's 128 KiB (see the .ld)
#define VW_RAMDISK_SIZE (64u * 1024u)

static int vw_fd = -2;                    // -2 not set up, -1 RAM disk, else semihosting handle
static uint32_t vw_nblocks;
static char vw_path[200];

static void vw_bdev_setup(void) {
    if (vw_fd != -2) {
        return;
    }
    uint32_t size;
    int fd = vw_image_open(vw_path, sizeof(vw_path), VW_DEFAULT_FS_SIZE, 16 * VW_BLOCK, &size);
    if (fd != -1) {
        vw_fd = fd;
        vw_nblocks = size / VW_BLOCK;
        return;
    }
    if (vw_path[0]) {
        mp_printf(&mp_plat_print, "veriwatt board: cannot open %s, using a RAM disk\n", vw_path);
    }
    vw_fd = -1;
    vw_nblocks = VW_RAMDISK_SIZE / VW_BLOCK;
}

static int vw_bdev_rw(uint8_t *buf, uint32_t block, uint32_t n, int write) {
    vw_bdev_setup();
    if (block >= vw_nblocks || n > vw_nblocks - block) {
        return -MP_EIO;
    }
    uint32_t pos = block * VW_BLOCK, len = n * VW_BLOCK;
    if (vw_fd < 0) {
        vw_ram_rw(VW_RAMDISK_BASE, pos, buf, len, write);
        return 0;
    }
    return vw_image_rw(vw_fd, pos, buf, len, write) == 0 ? 0 : -MP_EIO;
}

int32_t vw_bdev_ioctl(uint32_t op, uint32_t arg) {
    (void)arg;
    switch (op) {
        case BDEV_IOCTL_INIT:
            vw_bdev_setup();
            return 0;
        case BDEV_IOCTL_NUM_BLOCKS:
            vw_bdev_setup();
            return vw_nblocks;
        default:                          // SYNC, IRQ_HANDLER: writes are never cached
            return 0;
    }
}

int vw_bdev_readblocks(uint8_t *dest, uint32_t block_num, uint32_t num_blocks) {
    return vw_bdev_rw(dest, block_num, num_blocks, 0);
}

int vw_bdev_writeblocks(const uint8_t *src, uint32_t block_num, uint32_t num_blocks) {
    return vw_bdev_rw((uint8_t *)src, block_num, num_blocks, 1);
}

bool vw_bdev_readblock(uint8_t *dest, uint32_t block) {
    return vw_bdev_rw(dest, block, 1, 0) == 0;
}

bool vw_bdev_writeblock(const uint8_t *src, uint32_t block) {
    return vw_bdev_rw((uint8_t *)src, block, 1, 1) == 0;
}

/******************************************************************************/
// Boot

int vw_board_run_boot_py(boardctrl_state_t *state) {
    if (vw_cmdline_value("safe", NULL, 0)) {
        state->reset_mode = BOARDCTRL_RESET_MODE_SAFE_MODE; // skips boot.py and main.py
    }
    return boardctrl_run_boot_py(state);
}
