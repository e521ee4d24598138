/* SPDX-License-Identifier: MIT */
/*
 * vw_semihost.h - ARM semihosting for the veriwatt emulation boards (one source for the QEMU
 * qemu-port board simulators/qemu/boards/VERIWATT_AN386/board.c and the stm32-port board
 * simulators/stm32/boards/VERIWATT_NETDUINO_PLUS_2/board_init.c; each includes it once).
 *
 * Semihosting is the `bkpt 0xab` call of the Arm "Semihosting for AArch32 and AArch64"
 * specification; QEMU serves it with -semihosting-config enable=on,target=native. On silicon
 * without a debugger it faults: these boards are for QEMU only.
 *
 *   vw_semihost(op, arg)                  one semihosting call (SYS_* below)
 *   vw_cmdline_get()                      the semihosting command line (read once)
 *   vw_cmdline_value(key, out, out_len)   word `key` (out == NULL) or `key=value` on it
 *   vw_image_open(path, path_len, default_size, min_len, &size)
 *                                         the storage image: the host file of the word fs=PATH
 *   vw_image_rw(fd, pos, buf, len, write) read or write bytes of that image
 *   vw_ram_rw(base, pos, buf, len, write) the RAM disk used without fs=
 *
 * The storage image: an existing file of at least min_len bytes keeps its size (the
 * filesystem's); a new or shorter one is written out in full with 0xff (erased flash) to
 * fs_size=BYTES (default default_size), so its length records the size for the next run.
 * Every write reaches the file before the call returns: killing QEMU is a power cut.
 */
#ifndef VW_SEMIHOST_H
#define VW_SEMIHOST_H

#include <stdint.h>
#include <string.h>

#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_SEEK 0x0a
#define SYS_FLEN 0x0c
#define SYS_GET_CMDLINE 0x15

static inline int vw_semihost(uint32_t op, void *arg) {
    register uint32_t r0 __asm__ ("r0") = op;
    register void *r1 __asm__ ("r1") = arg;
    __asm volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return (int)r0;
}

static char vw_cmdline[256];
static int vw_cmdline_read;

static inline const char *vw_cmdline_get(void) {
    if (!vw_cmdline_read) {
        uint32_t args[2] = { (uint32_t)vw_cmdline, sizeof(vw_cmdline) - 1 };
        if (vw_semihost(SYS_GET_CMDLINE, args) != 0) {
            vw_cmdline[0] = 0;
        } else {
            vw_cmdline[args[1] < sizeof(vw_cmdline) ? args[1] : sizeof(vw_cmdline) - 1] = 0;
        }
        vw_cmdline_read = 1;
    }
    return vw_cmdline;
}

// Word `key` (out == NULL) or `key=value` (value copied to out) on the command line: 1 if found.
static inline int vw_cmdline_value(const char *key, char *out, size_t out_len) {
    const char *s = vw_cmdline_get();
    size_t klen = strlen(key);
    while (*s) {
        while (*s == ' ') {
            s++;
        }
        const char *w = s;
        while (*s && *s != ' ') {
            s++;
        }
        size_t wlen = s - w;
        if (wlen == klen && out == NULL && memcmp(w, key, klen) == 0) {
            return 1;
        }
        if (out && wlen > klen && w[klen] == '=' && memcmp(w, key, klen) == 0) {
            size_t n = wlen - klen - 1;
            if (n >= out_len) {
                n = out_len - 1;
            }
            memcpy(out, w + klen + 1, n);
            out[n] = 0;
            return 1;
        }
    }
    return 0;
}

// The storage image named by fs=PATH (copied into path): its semihosting handle, or -1 when
// there is no fs= word or the file cannot be opened (path is then "" or the unopened name).
// *size: the image's size in bytes (fs_size=BYTES or default_size for a new image).
static inline int vw_image_open(char *path, size_t path_len, uint32_t default_size, uint32_t min_len,
    uint32_t *size) {
    char buf[24];
    *size = default_size;
    if (vw_cmdline_value("fs_size", buf, sizeof(buf))) {
        *size = 0;
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++) {
            *size = *size * 10 + (*p - '0');
        }
    }
    path[0] = 0;
    if (!vw_cmdline_value("fs", path, path_len)) {
        return -1;
    }
    uint32_t a[3] = { (uint32_t)path, 3 /* r+b */, strlen(path) };
    int fd = vw_semihost(SYS_OPEN, a);
    if (fd == -1) {
        a[1] = 7; // w+b: create
        fd = vw_semihost(SYS_OPEN, a);
    }
    if (fd == -1) {
        return -1;
    }
    uint32_t f[1] = { fd };
    int len = vw_semihost(SYS_FLEN, f);
    if (len >= (int)min_len) {
        *size = len; // existing image: its size is the filesystem's size
        return fd;
    }
    static const uint32_t ff[64] = { [0 ... 63] = 0xffffffffu };
    uint32_t sk[2] = { fd, 0 };
    vw_semihost(SYS_SEEK, sk);
    for (uint32_t off = 0; off < *size; off += sizeof(ff)) {
        uint32_t w[3] = { fd, (uint32_t)ff, sizeof(ff) };
        vw_semihost(SYS_WRITE, w);
    }
    return fd;
}

// Read (write == 0) or write len bytes at pos of the image: 0, or -1 on an I/O error.
// Reading past the end of a short image gives 0xff (erased flash).
static inline int vw_image_rw(int fd, uint32_t pos, uint8_t *buf, uint32_t len, int write) {
    uint32_t s[2] = { fd, pos };
    if (vw_semihost(SYS_SEEK, s) != 0) {
        return -1;
    }
    uint32_t a[3] = { fd, (uint32_t)buf, len };
    int left = vw_semihost(write ? SYS_WRITE : SYS_READ, a);
    if (left < 0 || (write && left != 0)) {
        return -1;
    }
    if (!write && left > 0) {
        memset(buf + len - left, 0xff, left);
    }
    return 0;
}

// The RAM disk: len bytes at base + pos.
static inline void vw_ram_rw(uint32_t base, uint32_t pos, uint8_t *buf, uint32_t len, int write) {
    uint8_t *mem = (uint8_t *)base + pos;
    if (write) {
        memcpy(mem, buf, len);
    } else {
        memcpy(buf, mem, len);
    }
}

#endif // VW_SEMIHOST_H
