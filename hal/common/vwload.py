# SPDX-License-Identifier: MIT
# Deterministic household load profile, shared by the simulated HAL profiles (unix, qemu).
#
# wh(seed, slot) -> integer Wh consumed in half-hour slot `slot` (slot = unix_seconds // 1800,
# UTC).  Random access: any slot can be computed on its own, so a meter restarted after a
# power cut (or catching up after its clock moved on) reproduces exactly the same readings.
# Integer arithmetic only (identical on CPython, unix MicroPython and a Cortex-M port).
#
# Shape (per household, all parameters drawn from the seed):
#   base load (fridge, standby) + morning peak + evening peak, a weekend shape (later,
#   flatter morning, midday activity), a winter/summer factor, multiplicative noise, and
#   occasional appliance events (kettle, oven, washing machine) more likely at active hours.
# Typical output: 30..60 Wh at night, 150..700 Wh at the evening peak, about 3 to 4 MWh a year.

# Average power in W for each half-hour of a typical weekday / weekend day (before scaling).
_WEEKDAY = (
    160,
    150,
    140,
    135,
    130,
    130,
    130,
    130,
    135,
    140,
    150,
    170,  # 00:00-05:30
    240,
    380,
    520,
    560,
    450,
    320,
    250,
    220,
    210,
    210,
    220,
    250,  # 06:00-11:30
    280,
    260,
    230,
    220,
    220,
    240,
    280,
    350,
    460,
    620,
    760,
    820,  # 12:00-17:30
    800,
    740,
    660,
    580,
    520,
    470,
    420,
    370,
    320,
    270,
    220,
    185,  # 18:00-23:30
)
_WEEKEND = (
    180,
    165,
    150,
    140,
    135,
    130,
    130,
    130,
    130,
    135,
    140,
    150,
    170,
    200,
    260,
    340,
    440,
    540,
    590,
    580,
    540,
    500,
    520,
    560,
    590,
    540,
    470,
    420,
    400,
    410,
    440,
    500,
    580,
    680,
    760,
    800,
    790,
    740,
    680,
    610,
    550,
    500,
    450,
    400,
    350,
    300,
    250,
    205,
)
# Seasonal factor in percent, by month (Jan..Dec), northern hemisphere, electric lighting
# and some heating in winter.
_SEASON = (128, 122, 110, 100, 90, 84, 82, 85, 92, 104, 118, 130)


def _mix(x):
    # 32-bit integer finaliser (murmur3 fmix32): good avalanche, cheap, platform-independent.
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def _rand(seed, slot, stream):
    return _mix(_mix(seed * 0x9E3779B1 + stream) ^ _mix(slot + 0x632BE5AB * stream))


class Household:
    def __init__(self, seed):
        self.seed = seed & 0xFFFFFFFF
        r = _mix(self.seed ^ 0x5BD1E995)
        self.scale = 50 + r % 70  # percent of the typical shape: 50..119
        r = _mix(r)
        self.base_w = 45 + r % 70  # always-on load in W: 45..114
        r = _mix(r)
        self.shift = r % 3 - 1  # -1, 0, +1 half-hour: early/late riser
        r = _mix(r)
        self.noise = 10 + r % 20  # noise amplitude in percent: 10..29

    def wh(self, slot):
        days = slot // 48
        hh = (slot - self.shift) % 48  # half-hour of day, shifted per household
        dow = (days + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        shape = _WEEKEND if dow >= 5 else _WEEKDAY
        doy = ((days * 4 + 2) % 1461) // 4  # day of year, close enough for seasons
        month = doy * 12 // 366
        w = shape[hh] * self.scale * _SEASON[month] // 10000 + self.base_w
        r = _rand(self.seed, slot, 1)
        # multiplicative noise in [-noise, +noise] percent
        w = w * (100 - self.noise + r % (2 * self.noise + 1)) // 100
        # appliance events: probability rises with the activity of the slot
        r2 = _rand(self.seed, slot, 2)
        p = shape[hh] // 40  # 3..20 in a thousand-ish scale
        if r2 % 200 < p:
            w += 1500 + (r2 >> 8) % 1500  # 1.5..3 kW for part of the slot
            w = w * (20 + (r2 >> 20) % 60) // 100 if r2 & 1 else w
        wh = w // 2  # W averaged over 30 min -> Wh
        return wh if wh > 0 else 0


_cache = {}


def wh(seed, slot):
    h = _cache.get(seed)
    if h is None:
        if len(_cache) > 8:
            _cache.clear()
        h = _cache[seed] = Household(seed)
    return h.wh(slot)
