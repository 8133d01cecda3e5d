/** INFO's text format (`# Section` headers, `field:value` lines, CRLF), as servers print it and clients read it. */

/** INFO's `field:value` lines as a map (section headers and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line[0] !== '#') m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** The `k=v,k=v` fields of one INFO value (db0:keys=1,expires=0 or cmdstat_get:calls=…). */
export function infoFields(value: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (value === undefined) return m;
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}
