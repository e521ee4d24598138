/* SPDX-License-Identifier: MIT */
// VERIWATT_NETDUINO_PLUS_2: MicroPython's stm32 port (v1.25) on QEMU's `netduinoplus2`
// machine (STM32F405RG), an EMULATION board derived from boards/NETDUINO_PLUS_2.
// QEMU 7.2 models the USARTs, timers, EXTI, SYSCFG, SPI and ADC of the F405 but not RCC,
// GPIO, PWR, RTC, RNG, USB, the flash controller nor the CCM RAM; what this board changes
// for that is listed in simulators/README.md.  Built by tools/build_stm32.

#define MICROPY_HW_BOARD_NAME       "veriwatt NetduinoPlus2 (QEMU)"
#define MICROPY_HW_MCU_NAME         "STM32F405RG"

// No user switch or LEDs: QEMU has no GPIO model (reads return 0, writes are dropped).
#define MICROPY_HW_HAS_SWITCH       (0)
#define MICROPY_HW_HAS_FLASH        (1)
#define MICROPY_HW_ENABLE_SDCARD    (0)
#define MICROPY_HW_ENABLE_RNG       (0)   // no RNG model: os.urandom is absent
#define MICROPY_HW_ENABLE_RTC       (0)   // no RTC model: machine.RTC cannot keep time
#define MICROPY_HW_ENABLE_USB       (0)   // no USB model: the REPL is on USART1
#define MICROPY_HW_ENABLE_SERVO     (0)

// Storage: not the internal flash (QEMU's flash is read-only ROM, no flash controller) but
// a host file reached through ARM semihosting (board_init.c), behind the port's own
// storage layer (pyb.Flash, FAT, mounted at /flash exactly as on a Nucleo board).
#define MICROPY_HW_ENABLE_INTERNAL_FLASH_STORAGE (0)
#include <stdbool.h>
#include <stdint.h>
int32_t vw_bdev_ioctl(uint32_t op, uint32_t arg);
int vw_bdev_readblocks(uint8_t *dest, uint32_t block_num, uint32_t num_blocks);
int vw_bdev_writeblocks(const uint8_t *src, uint32_t block_num, uint32_t num_blocks);
bool vw_bdev_readblock(uint8_t *dest, uint32_t block);
bool vw_bdev_writeblock(const uint8_t *src, uint32_t block);
#define MICROPY_HW_BDEV_IOCTL vw_bdev_ioctl
#define MICROPY_HW_BDEV_READBLOCK vw_bdev_readblock
#define MICROPY_HW_BDEV_WRITEBLOCK vw_bdev_writeblock
#define MICROPY_HW_BDEV_READBLOCKS vw_bdev_readblocks
#define MICROPY_HW_BDEV_WRITEBLOCKS vw_bdev_writeblocks

// Semihosting command line word `safe`: run neither boot.py nor main.py.
struct _boardctrl_state_t;
int vw_board_run_boot_py(struct _boardctrl_state_t *state);
#define MICROPY_BOARD_RUN_BOOT_PY vw_board_run_boot_py

// Clocks: SystemClock_Config (board_init.c) does not touch the RCC (QEMU has none and the
// stock code spins on HSE-ready); these values describe the real NetduinoPlus2 only.
#define MICROPY_HW_CLK_PLLM (25)
#define MICROPY_HW_CLK_PLLN (336)
#define MICROPY_HW_CLK_PLLP (RCC_PLLP_DIV2)
#define MICROPY_HW_CLK_PLLQ (7)

// UART config: the REPL on USART1 (QEMU's first -serial), the meter line on USART2
// (the second -serial) through machine.UART(2), as hal/stm32 drives any board.
#define MICROPY_HW_UART1_TX     (pin_A9)
#define MICROPY_HW_UART1_RX     (pin_A10)
#define MICROPY_HW_UART2_TX     (pin_A2)
#define MICROPY_HW_UART2_RX     (pin_A3)
#define MICROPY_HW_UART3_TX     (pin_D8)
#define MICROPY_HW_UART3_RX     (pin_D9)
#define MICROPY_HW_UART6_TX     (pin_C6)
#define MICROPY_HW_UART6_RX     (pin_C7)
#define MICROPY_HW_UART_REPL        PYB_UART_1
#define MICROPY_HW_UART_REPL_BAUD   115200

// I2C buses
#define MICROPY_HW_I2C1_SCL (pin_B6)
#define MICROPY_HW_I2C1_SDA (pin_B7)

// SPI buses
#define MICROPY_HW_SPI2_NSS  (pin_B12)
#define MICROPY_HW_SPI2_SCK  (pin_B13)
#define MICROPY_HW_SPI2_MISO (pin_B14)
#define MICROPY_HW_SPI2_MOSI (pin_B15)
