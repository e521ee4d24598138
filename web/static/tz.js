// The UTC offset (minutes) of a time zone at the start of each half-hour slot [start, end),
// from the browser's own time-zone data (Intl): what the page's Python needs to price slots
// in the tariff's zone (vwpage.price_band). Slot t starts at Unix time t * 1800.
export function offsets(tz, start, end) {
  const f = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit",
                                              day: "2-digit", hour: "2-digit", minute: "2-digit" });
  const out = [];
  for (let t = start; t < end; t++) {
    const p = Object.fromEntries(f.formatToParts(new Date(t * 1800000)).map((x) => [x.type, x.value]));
    const local = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    out.push(Math.round((local - t * 1800000) / 60000));
  }
  return out;
}
