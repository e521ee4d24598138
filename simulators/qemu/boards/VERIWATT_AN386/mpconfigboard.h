/* SPDX-License-Identifier: MIT */
// MicroPython configuration of the VERIWATT_AN386 board, passed as MP_CONFIGFILE (see
// mpconfigboard.mk): the qemu port's own mpconfigport.h, then the board's changes.
// (The port has no per-board header; #undef + #define avoids redefinition errors.)
#include "mpconfigport.h"

// sys.stdin.buffer / sys.stdout.buffer: binary serial I/O for the meter protocol and
// for `mpremote mount` (the port sets 0).
#undef MICROPY_PY_SYS_STDIO_BUFFER
#define MICROPY_PY_SYS_STDIO_BUFFER (1)

// Called at the end of mp_init(), i.e. at power-on and after every soft reset: start the
// SysTick clock, mount the filesystem, run boot.py/main.py (board.c).
void vw_board_init(void);
#define MICROPY_PORT_INIT_FUNC vw_board_init()
