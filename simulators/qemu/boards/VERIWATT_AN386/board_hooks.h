// Force-included into every C file of the VERIWATT_AN386 build (see mpconfigboard.mk).
#ifndef VW_BOARD_HOOKS_H
#define VW_BOARD_HOOKS_H

void vw_board_init(void);

// Called at the end of mp_init(), i.e. at power-on and after every soft reset.
#define MICROPY_PORT_INIT_FUNC vw_board_init()

#endif
